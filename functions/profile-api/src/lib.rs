//! profile-api: `GET /v1/health`, `GET/PUT /v1/me`, `PUT /v1/me/availability`
//! (F-PR-1, F-PR-2, F-PR-5), the phone number and its verification (F-SMS-17,
//! F-SMS-18) and `GET/PUT /v1/me/sms-preferences` (F-SMS-8, F-SMS-9). Every
//! authenticated call refreshes `last_seen_at` (throttled) alongside its own work.

use axum::extract::State;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;
use versus::lambda::Invoke;
use versus::phone::PhoneNumber;
use versus::presence::{self, Presence};
use versus::profile::{self, AvailabilityInput, Profile, ProfileInput, Profiles};
use versus::sms::outbox::Outbox;
use versus::sms::preferences::{self, ConsentContext, PreferencesInput, PreferencesStore};
use versus::sms::store::SmsStore;
use versus::sms::verification::Verification;
use versus::{db, Config, Error};
use versus_http::routing::{
    self, delete, get, post, put, Answer, Authenticated, JsonBody, Now, Reply, Router, SourceIp,
};

pub struct App {
    profiles: Profiles,
    presence: Presence,
    verification: Verification,
    preferences: PreferencesStore,
    sms: SmsStore,
    config: Config,
}

type Shared = State<Arc<App>>;

/// `POST /v1/me/phone/verification` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PhoneInput {
    phone_number: String,
}

/// `POST /v1/me/phone/verify` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CodeInput {
    code: String,
}

/// Builds the clients once and returns the handler (used by `main` and the local gateway).
pub async fn function(config: &Config) -> Result<Invoke, Error> {
    let sdk = config.aws_sdk().await;
    let client = db::dynamodb(&sdk);
    db::warm_up(&client, &config.tables.users).await;
    let outbox = versus::wiring::outbox(&sdk, &client, config);
    let app = Arc::new(App::new(client, config.clone(), outbox));
    Ok(versus_http::function(router(app)))
}

/// The routes (the template's `ProfileApiFunction` events name the same ones).
pub fn router(app: Arc<App>) -> Router {
    let public = Router::new().route("/v1/health", get(health));
    let own = Router::new()
        .route("/v1/me", get(get_me).put(put_me))
        .route("/v1/me/availability", put(put_availability))
        .route("/v1/me/phone/verification", post(request_verification))
        .route("/v1/me/phone/verify", post(verify_phone))
        .route("/v1/me/phone", delete(remove_phone))
        .route(
            "/v1/me/sms-preferences",
            get(get_preferences).put(put_preferences),
        )
        .with_state(app.clone());
    let auth = routing::Authentication::new(&app.config, app.profiles.clone());
    routing::with_public(public, routing::authenticated(own, auth))
}

impl App {
    pub fn new(client: aws_sdk_dynamodb::Client, config: Config, outbox: Outbox) -> Self {
        App {
            profiles: versus::wiring::profiles(&client, &config),
            presence: versus::wiring::presence(&client, &config),
            preferences: PreferencesStore::new(client.clone(), &config.tables.users),
            sms: outbox.store().clone(),
            verification: versus::wiring::verification(&client, &config, outbox),
            config,
        }
    }

    /// The preferences, and whether the user's number is on the opt-out list.
    async fn preferences_view(
        &self,
        profile: &Profile,
        prefs: &versus::sms::policy::Preferences,
    ) -> Result<Value, Error> {
        let opted_out = match profile.phone.number.as_deref().map(PhoneNumber::parse) {
            Some(Ok(phone)) => Some(versus::sms::optouts::is_opted_out(&self.sms, &phone).await?),
            _ => None,
        };
        Ok(preferences::view(prefs, opted_out))
    }

    async fn view(&self, profile: &profile::Profile, now_ms: i64) -> Result<Value, Error> {
        let window = self.config.online_window_secs;
        let recently_seen =
            presence::is_online(profile.availability.last_seen_at, false, now_ms, window);
        let online = recently_seen
            || !self
                .presence
                .connections(&profile.user_id, now_ms)
                .await?
                .is_empty();
        let mut view = profile::owner_view(profile, online);
        view["sms_preferences"] =
            preferences::view(&profile.sms_preferences.clone().unwrap_or_default(), None);
        Ok(view)
    }
}

async fn health() -> Reply {
    Reply(200, json!({ "status": "ok" }))
}

async fn get_me(
    State(app): Shared,
    Authenticated(caller): Authenticated,
    Now(now_ms): Now,
) -> Answer {
    let profile = app.profiles.require(&caller.user_id).await?;
    Ok(Reply(200, app.view(&profile, now_ms).await?))
}

async fn put_me(
    State(app): Shared,
    Authenticated(caller): Authenticated,
    Now(now_ms): Now,
    JsonBody(input): JsonBody<ProfileInput>,
) -> Answer {
    let (profile, created) = app.profiles.save(&caller, input, now_ms).await?;
    let status = if created { 201 } else { 200 };
    Ok(Reply(status, app.view(&profile, now_ms).await?))
}

async fn put_availability(
    State(app): Shared,
    Authenticated(caller): Authenticated,
    Now(now_ms): Now,
    JsonBody(input): JsonBody<AvailabilityInput>,
) -> Answer {
    let profile = app
        .profiles
        .set_availability(&caller.user_id, input.is_available_for_battles, now_ms)
        .await?;
    Ok(Reply(200, app.view(&profile, now_ms).await?))
}

async fn request_verification(
    State(app): Shared,
    Authenticated(caller): Authenticated,
    Now(now_ms): Now,
    JsonBody(input): JsonBody<PhoneInput>,
) -> Answer {
    let phone = PhoneNumber::parse(&input.phone_number)?;
    app.profiles.require(&caller.user_id).await?;
    let expires = app
        .verification
        .request(&caller.user_id, phone.clone(), now_ms)
        .await?;
    Ok(Reply(
        202,
        json!({ "phone_number": phone.masked(), "expires_at": versus::rfc3339(expires) }),
    ))
}

async fn verify_phone(
    State(app): Shared,
    Authenticated(caller): Authenticated,
    Now(now_ms): Now,
    JsonBody(input): JsonBody<CodeInput>,
) -> Answer {
    app.verification
        .verify(&caller.user_id, &input.code, now_ms)
        .await?;
    let profile = app.profiles.require(&caller.user_id).await?;
    Ok(Reply(200, app.view(&profile, now_ms).await?))
}

async fn remove_phone(
    State(app): Shared,
    Authenticated(caller): Authenticated,
    Now(now_ms): Now,
) -> Answer {
    let profile = app.verification.remove(&caller.user_id).await?;
    Ok(Reply(200, app.view(&profile, now_ms).await?))
}

async fn get_preferences(State(app): Shared, Authenticated(caller): Authenticated) -> Answer {
    let profile = app.profiles.require(&caller.user_id).await?;
    let prefs = profile.sms_preferences.clone().unwrap_or_default();
    Ok(Reply(200, app.preferences_view(&profile, &prefs).await?))
}

async fn put_preferences(
    State(app): Shared,
    Authenticated(caller): Authenticated,
    Now(now_ms): Now,
    SourceIp(ip_address): SourceIp,
    JsonBody(input): JsonBody<PreferencesInput>,
) -> Answer {
    let context = ConsentContext {
        ip_address: ip_address.as_deref(),
        now_ms,
    };
    let prefs = app
        .preferences
        .update(&caller.user_id, |current| {
            preferences::apply(current, &input, &context)
        })
        .await?
        .ok_or_else(profile::no_profile)?;
    let profile = app.profiles.require(&caller.user_id).await?;
    Ok(Reply(200, app.preferences_view(&profile, &prefs).await?))
}
