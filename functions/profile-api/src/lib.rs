//! profile-api: `GET /v1/health`, `GET/PUT /v1/me`, `PUT /v1/me/availability`
//! (F-PR-1, F-PR-2, F-PR-5), the phone number and its verification (F-SMS-17,
//! F-SMS-18) and `GET/PUT /v1/me/sms-preferences` (F-SMS-8, F-SMS-9). Every
//! authenticated call refreshes `last_seen_at` (throttled) alongside its own work.

use lambda_http::http::Method;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;
use versus::auth::Caller;
use versus::lambda::{self, Invoke};
use versus::phone::PhoneNumber;
use versus::presence::{self, Presence};
use versus::profile::{self, AvailabilityInput, Profile, ProfileInput, Profiles};
use versus::sms::outbox::Outbox;
use versus::sms::preferences::{self, ConsentContext, PreferencesInput, PreferencesStore};
use versus::sms::store::SmsStore;
use versus::sms::verification::Verification;
use versus::{db, http, Config, Error};

pub struct App {
    profiles: Profiles,
    presence: Presence,
    verification: Verification,
    preferences: PreferencesStore,
    sms: SmsStore,
    config: Config,
}

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
    let sdk = db::aws_config().await;
    let client = db::dynamodb(&sdk);
    db::warm_up(&client, &config.tables.users).await;
    let outbox = Outbox::new(
        SmsStore::new(client.clone(), &config.tables.sms),
        aws_sdk_sqs::Client::new(&sdk),
        config.sms.clone(),
    );
    let app = Arc::new(App::new(client, config.clone(), outbox));
    Ok(lambda::http(move |req| {
        let app = app.clone();
        async move { app.handle(req, versus::now_ms()).await }
    }))
}

impl App {
    pub fn new(client: aws_sdk_dynamodb::Client, config: Config, outbox: Outbox) -> Self {
        App {
            profiles: Profiles::new(client.clone(), &config),
            presence: Presence::new(client.clone(), &config),
            preferences: PreferencesStore::new(client.clone(), &config.tables.users),
            sms: outbox.store().clone(),
            verification: Verification::new(client, &config, outbox),
            config,
        }
    }

    pub async fn handle(&self, req: Request, now_ms: i64) -> Response<Body> {
        let path = &req.uri().path().trim_end_matches('/').to_string();
        if req.method() == Method::GET && path == "/v1/health" {
            return http::json(200, &json!({ "status": "ok" }));
        }
        let throttle = self.config.last_seen_throttle_secs;
        let req = &req;
        http::authenticated(req, &self.profiles, throttle, now_ms, |caller| async move {
            self.route(req, path, &caller, now_ms).await
        })
        .await
    }

    async fn route(
        &self,
        req: &Request,
        path: &str,
        caller: &Caller,
        now_ms: i64,
    ) -> Result<(u16, Value), Error> {
        match (req.method().clone(), path) {
            (Method::GET, "/v1/me") => {
                let profile = self.profiles.require(&caller.user_id).await?;
                self.view(&profile, now_ms).await.map(|v| (200, v))
            }
            (Method::PUT, "/v1/me") => {
                let input: ProfileInput = http::json_body(req)?;
                let (profile, created) = self.profiles.save(caller, input, now_ms).await?;
                let status = if created { 201 } else { 200 };
                self.view(&profile, now_ms).await.map(|v| (status, v))
            }
            (Method::PUT, "/v1/me/availability") => {
                let input: AvailabilityInput = http::json_body(req)?;
                let profile = self
                    .profiles
                    .set_availability(&caller.user_id, input.is_available_for_battles, now_ms)
                    .await?;
                self.view(&profile, now_ms).await.map(|v| (200, v))
            }
            (Method::POST, "/v1/me/phone/verification") => {
                let input: PhoneInput = http::json_body(req)?;
                let phone = PhoneNumber::parse(&input.phone_number)?;
                self.profiles.require(&caller.user_id).await?;
                let expires = self
                    .verification
                    .request(&caller.user_id, phone.clone(), now_ms)
                    .await?;
                Ok((
                    202,
                    json!({ "phone_number": phone.masked(), "expires_at": versus::rfc3339(expires) }),
                ))
            }
            (Method::POST, "/v1/me/phone/verify") => {
                let input: CodeInput = http::json_body(req)?;
                self.verification
                    .verify(&caller.user_id, &input.code, now_ms)
                    .await?;
                let profile = self.profiles.require(&caller.user_id).await?;
                self.view(&profile, now_ms).await.map(|v| (200, v))
            }
            (Method::DELETE, "/v1/me/phone") => {
                let profile = self.profiles.require(&caller.user_id).await?;
                self.verification
                    .remove(&caller.user_id, profile.phone_number.as_deref())
                    .await?;
                let profile = Profile {
                    phone_number: None,
                    phone_verified: false,
                    phone_verified_at: None,
                    ..profile
                };
                self.view(&profile, now_ms).await.map(|v| (200, v))
            }
            (Method::GET, "/v1/me/sms-preferences") => {
                let profile = self.profiles.require(&caller.user_id).await?;
                let prefs = profile.sms_preferences.clone().unwrap_or_default();
                self.preferences_view(&profile, &prefs)
                    .await
                    .map(|v| (200, v))
            }
            (Method::PUT, "/v1/me/sms-preferences") => {
                let input: PreferencesInput = http::json_body(req)?;
                let context = ConsentContext {
                    ip_address: source_ip(req),
                    now_ms,
                };
                let prefs = self
                    .preferences
                    .update(&caller.user_id, |current| {
                        preferences::apply(current, &input, &context)
                    })
                    .await?
                    .ok_or_else(profile::no_profile)?;
                let profile = self.profiles.require(&caller.user_id).await?;
                self.preferences_view(&profile, &prefs)
                    .await
                    .map(|v| (200, v))
            }
            _ => Err(Error::not_found(
                "route_not_found",
                format!("no route {} {}", req.method(), path),
            )),
        }
    }

    /// The preferences, and whether the user's number is on the opt-out list.
    async fn preferences_view(
        &self,
        profile: &Profile,
        prefs: &versus::sms::policy::Preferences,
    ) -> Result<Value, Error> {
        let opted_out = match profile.phone_number.as_deref().map(PhoneNumber::parse) {
            Some(Ok(phone)) => Some(self.sms.is_opted_out(&phone).await?),
            _ => None,
        };
        Ok(preferences::view(prefs, opted_out))
    }

    async fn view(&self, profile: &profile::Profile, now_ms: i64) -> Result<Value, Error> {
        let window = self.config.online_window_secs;
        let recently_seen = presence::is_online(profile.last_seen_at, false, now_ms, window);
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

/// The caller's address as API Gateway saw it (F-SMS-9 consent records).
fn source_ip(req: &Request) -> Option<&str> {
    match req.request_context_ref()? {
        RequestContext::ApiGatewayV2(context) => context.http.source_ip.as_deref(),
        _ => None,
    }
}
