//! invitations-api: direct invitations (F-MM-7) and their answers (F-MM-3),
//! invitations by SMS and invite links (F-SMS-19, F-SMS-20), private
//! matches (F-MM-6), battles (F-MM-9) and results (F-MM-10).

use axum::extract::State;
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;
use versus::auth::Caller;
use versus::battles::invitations::{self, invitation_not_found, InvitationBox, MAX_PAGE};
use versus::battles::invite_tokens::{self, invite_link_not_found};
use versus::battles::messages::{self, notify};
use versus::battles::results::{battle_not_found, ResultInput, ResultListener};
use versus::battles::{validate_challenge_type, BattleStore, MatchSource};
use versus::ids::{BattleId, InvitationId};
use versus::lambda::Invoke;
use versus::phone::PhoneNumber;
use versus::points::battle_points::BattlePoints;
use versus::profile::Profile;
use versus::realtime::Pusher;
use versus::sms::limits::Limit;
use versus::sms::store::SmsStore;
use versus::texts::invites::{sms_view, SmsInviteInput, SmsInvites};
use versus::texts::notices::BattleNotices;
use versus::{db, Config, Error};
use versus_http::routing::{
    self, get, post, Answer, Authenticated, JsonBody, Now, PathParam, Query, RawBody, Reply,
    Router, SourceIp,
};

/// Stakes are whole units of the platform's currency.
const MAX_STAKE: i64 = 1_000_000_000;

pub struct App {
    battles: BattleStore,
    pusher: Pusher,
    /// match_found and battle_result, pushed and texted (F-SMS-21, F-SMS-22).
    notices: Arc<BattleNotices>,
    invites: SmsInvites,
    /// The counters that rate-limit invite-link previews (F-SMS-20).
    counters: SmsStore,
    /// What else runs when a result is recorded: battle points (F-PT-9) and
    /// the battle_result texts (F-SMS-22).
    result_listeners: Vec<Arc<dyn ResultListener>>,
    config: Config,
}

/// `POST /v1/invitations/accept-token` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenInput {
    token: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DirectInvitationInput {
    username: String,
    challenge_type: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PrivateMatchInput {
    challenge_type: Option<String>,
    #[serde(default)]
    stake: Option<i64>,
    #[serde(default)]
    invite_phone: Option<String>,
}

pub async fn function(config: &Config) -> Result<Invoke, Error> {
    let sdk = config.aws_sdk().await;
    let client = db::dynamodb(&sdk);
    db::warm_up(&client, &config.tables.battles).await;
    let pusher = versus::wiring::pusher(&sdk, &client, config)?;
    let battle_points = BattlePoints::new(
        versus::wiring::tracking(&client, config),
        pusher.clone(),
        config.battle_points,
    );
    let outbox = versus::wiring::outbox(&sdk, &client, config);
    let notices = Arc::new(versus::wiring::battle_notices(
        pusher.clone(),
        outbox.clone(),
        &client,
        config,
    ));
    let app = Arc::new(App {
        battles: versus::wiring::battles(&client, config),
        invites: versus::wiring::sms_invites(pusher.clone(), outbox.clone(), &client, config),
        counters: outbox.store().clone(),
        pusher,
        result_listeners: vec![Arc::new(battle_points), notices.clone()],
        notices,
        config: config.clone(),
    });
    Ok(versus_http::function(router(app)))
}

type Shared = State<Arc<App>>;

/// The routes (the template's `InvitationsApiFunction` events name the same ones).
pub fn router(app: Arc<App>) -> Router {
    let public = Router::new()
        .route("/v1/invitations/preview", get(preview))
        .with_state(app.clone());
    let routes = Router::new()
        .route("/v1/invitations", post(invite).get(list))
        .route("/v1/invitations/sms", post(invite_by_sms))
        .route("/v1/invitations/accept-token", post(accept_token))
        .route("/v1/invitations/{id}", get(get_invitation))
        .route("/v1/invitations/{id}/accept", post(accept))
        .route("/v1/invitations/{id}/decline", post(decline))
        .route("/v1/invitations/{id}/cancel", post(cancel))
        .route("/v1/matches/private", post(create_private))
        .route("/v1/matches/private/{code}/join", post(join_private))
        .route("/v1/battles/{id}", get(get_battle))
        .route("/v1/battles/{id}/result", post(record_result))
        .with_state(app.clone());
    let authenticated = routing::authenticated(
        routes,
        routing::Authentication::new(&app.config, app.battles.profiles().clone()),
    );
    routing::with_public(public, authenticated)
}

async fn get_invitation(
    State(app): Shared,
    Authenticated(caller): Authenticated,
    Now(now_ms): Now,
    PathParam(id): PathParam,
) -> Answer {
    let invitation = app
        .battles
        .get_invitation(&id)
        .await?
        .filter(|i| i.concerns(&caller.user_id))
        .ok_or_else(invitation_not_found)?;
    Ok(Reply(200, invitation.view(now_ms)))
}

async fn accept(
    state: Shared,
    Authenticated(caller): Authenticated,
    now: Now,
    id: PathParam,
) -> Answer {
    answer(state, Authenticated(caller), now, id, true).await
}

async fn decline(
    state: Shared,
    Authenticated(caller): Authenticated,
    now: Now,
    id: PathParam,
) -> Answer {
    answer(state, Authenticated(caller), now, id, false).await
}

/// F-MM-3: the invitee accepts (the battle starts) or declines.
async fn answer(
    State(app): Shared,
    Authenticated(caller): Authenticated,
    Now(now_ms): Now,
    PathParam(id): PathParam,
    accept: bool,
) -> Answer {
    match versus::battles::answers::answer(
        &app.battles,
        &InvitationId::parse(&id)?,
        &caller.user_id,
        accept,
        now_ms,
    )
    .await?
    {
        invitations::Answer::Accepted { battle, invitation } => {
            app.notices.match_found(&battle, now_ms).await;
            Ok(Reply(
                200,
                json!({
                    "invitation": invitation.view(now_ms),
                    "battle": messages::battle_view(&battle),
                }),
            ))
        }
        invitations::Answer::Declined(invitation) => {
            notify::invitation_declined_to_both(&app.pusher, &invitation, now_ms).await;
            Ok(Reply(200, json!({ "invitation": invitation.view(now_ms) })))
        }
    }
}

async fn cancel(
    State(app): Shared,
    Authenticated(caller): Authenticated,
    Now(now_ms): Now,
    PathParam(id): PathParam,
) -> Answer {
    let invitation = versus::battles::answers::cancel_invitation(
        &app.battles,
        &InvitationId::parse(&id)?,
        &caller.user_id,
        now_ms,
    )
    .await?;
    notify::to_invitee(
        &app.pusher,
        &invitation,
        &messages::invitation_cancelled(&invitation),
        now_ms,
    )
    .await;
    Ok(Reply(200, json!({ "invitation": invitation.view(now_ms) })))
}

async fn join_private(
    State(app): Shared,
    Authenticated(caller): Authenticated,
    Now(now_ms): Now,
    PathParam(code): PathParam,
) -> Answer {
    let me = app.own_profile(&caller).await?;
    let battle =
        versus::battles::private_code::join_private_match(&app.battles, &code, &me, now_ms).await?;
    app.notices.match_found(&battle, now_ms).await;
    Ok(Reply(
        201,
        json!({ "battle": messages::battle_view(&battle) }),
    ))
}

async fn get_battle(
    State(app): Shared,
    Authenticated(caller): Authenticated,
    PathParam(id): PathParam,
) -> Answer {
    let battle = app
        .battles
        .get_battle(&BattleId::parse(&id)?)
        .await?
        .ok_or_else(battle_not_found)?;
    if !battle.is_participant(&caller.user_id) {
        return Err(Error::Forbidden("only the battle's players can read it".into()).into());
    }
    Ok(Reply(200, messages::battle_view(&battle)))
}

/// F-MM-10: a service records the result.
async fn record_result(
    State(app): Shared,
    Authenticated(caller): Authenticated,
    Now(now_ms): Now,
    PathParam(id): PathParam,
    body: RawBody,
) -> Answer {
    caller.require_service()?;
    let input: ResultInput = body.json()?;
    let recorded = versus::battles::results::record_result(
        &app.battles,
        &BattleId::parse(&id)?,
        &input,
        now_ms,
    )
    .await?;
    if recorded.first_time {
        let message = messages::battle_result(&recorded.battle);
        for player in &recorded.battle.players {
            app.pusher.notify(&player.id, &message, now_ms).await;
        }
    }
    for listener in &app.result_listeners {
        listener.battle_completed(&recorded.battle, now_ms).await?;
    }
    Ok(Reply(
        200,
        json!({
            "battle": messages::battle_view(&recorded.battle),
            "already_recorded": !recorded.first_time,
        }),
    ))
}

impl App {
    async fn own_profile(&self, caller: &Caller) -> Result<Profile, Error> {
        self.battles.profiles().require(&caller.user_id).await
    }
}

/// F-MM-7: a direct invitation to a known player, by username.
async fn invite(
    State(app): Shared,
    Authenticated(caller): Authenticated,
    Now(now_ms): Now,
    JsonBody(input): JsonBody<DirectInvitationInput>,
) -> Answer {
    let challenge_type = validate_challenge_type(input.challenge_type.as_deref())?;
    let me = app.own_profile(&caller).await?;
    let to = app
        .battles
        .profiles()
        .find_by_username(&input.username)
        .await?
        .ok_or_else(|| Error::not_found("user_not_found", "no player with that username"))?;
    if to.user_id == me.user_id {
        return Err(Error::validation("you cannot invite yourself").into());
    }
    let invitation = versus::battles::invitations::create_invitation(
        &app.battles,
        &me,
        &to,
        &challenge_type,
        MatchSource::Direct,
        now_ms,
        &mut db::Cost::default(),
    )
    .await
    .map_err(|f| match f {
        versus::battles::invitations::InviteFailure::Failed(e) => e,
        _ => Error::not_found("user_not_found", "no player with that username"),
    })?;
    app.pusher
        .notify(
            &to.user_id,
            &messages::invitation_received(&invitation),
            now_ms,
        )
        .await;
    Ok(Reply(201, invitation.view(now_ms)))
}

async fn list(
    State(app): Shared,
    Authenticated(caller): Authenticated,
    Now(now_ms): Now,
    query: Query,
) -> Answer {
    let which = InvitationBox::parse(query.first("box").as_deref())?;
    let limit = query.limit("limit", 20, MAX_PAGE)?;
    let cursor = query.first("cursor");
    let (items, next) = versus::battles::invitations::list_invitations(
        &app.battles,
        &caller.user_id,
        which,
        limit,
        cursor.as_deref(),
    )
    .await?;
    Ok(Reply(
        200,
        json!({
            "items": items.iter().map(|i| i.view(now_ms)).collect::<Vec<_>>(),
            "next_cursor": next,
        }),
    ))
}

/// F-MM-6: a private match code.
async fn create_private(
    State(app): Shared,
    Authenticated(caller): Authenticated,
    Now(now_ms): Now,
    JsonBody(input): JsonBody<PrivateMatchInput>,
) -> Answer {
    let challenge_type = validate_challenge_type(input.challenge_type.as_deref())?;
    if let Some(stake) = input.stake {
        if !(1..=MAX_STAKE).contains(&stake) {
            return Err(Error::validation(format!(
                "stake must be a whole number from 1 to {MAX_STAKE}"
            ))
            .into());
        }
    }
    // Validated first, so a bad number is a 400 whatever else holds.
    let phone = input
        .invite_phone
        .as_deref()
        .map(PhoneNumber::parse)
        .transpose()?;
    let me = app.own_profile(&caller).await?;
    if let Some(phone) = &phone {
        app.invites
            .check_private_invite(&me, phone, &challenge_type, input.stake)?;
    }
    let Some(phone) = phone else {
        let private = versus::battles::private_code::create_private_match(
            &app.battles,
            &me,
            &challenge_type,
            input.stake,
            now_ms,
        )
        .await?;
        return Ok(Reply(201, private.view(now_ms)));
    };
    let (private, sms) = app
        .invites
        .create_private_with_text(&me, &challenge_type, input.stake, phone, now_ms)
        .await?;
    let mut view = private.view(now_ms);
    view["sms"] = sms_view(&sms);
    Ok(Reply(201, view))
}

/// F-SMS-19: an invitation by phone number.
async fn invite_by_sms(
    State(app): Shared,
    Authenticated(caller): Authenticated,
    Now(now_ms): Now,
    JsonBody(input): JsonBody<SmsInviteInput>,
) -> Answer {
    let me = app.own_profile(&caller).await?;
    let invited = app.invites.invite(&me, input, now_ms).await?;
    Ok(Reply(201, invited.view(now_ms)))
}

/// F-SMS-20: what an invite link offers, for the landing page. Public, so
/// rate-limited per source address; an unknown, used, cancelled or expired
/// link gets one and the same answer.
async fn preview(
    State(app): Shared,
    Now(now_ms): Now,
    SourceIp(ip): SourceIp,
    query: Query,
) -> Answer {
    let token = query.first("token").ok_or_else(|| {
        Error::validation("token is required: the code after /invite/ in the link")
    })?;
    // What no link carries is answered alike, without a read or a count.
    if !invite_tokens::well_formed(&token) {
        return Err(invite_link_not_found().into());
    }
    let limit = Limit::count(
        format!("preview#{}", ip.as_deref().unwrap_or("unknown")),
        60,
        app.config.texts.previews_per_ip_minute,
        (),
    );
    if versus::sms::limits::take(&app.counters, &[limit], now_ms)
        .await?
        .is_err()
    {
        return Err(Error::TooManyRequests {
            message: "too many invite previews from your address; wait a minute".into(),
            retry_after_secs: 60,
        }
        .into());
    }
    match versus::battles::invite_tokens::preview_invite(&app.battles, &token, now_ms).await? {
        Some(preview) => Ok(Reply(200, preview.view())),
        None => Err(invite_link_not_found().into()),
    }
}

/// F-SMS-20: the holder of an invite link accepts it; the battle starts.
async fn accept_token(
    State(app): Shared,
    Authenticated(caller): Authenticated,
    Now(now_ms): Now,
    JsonBody(input): JsonBody<TokenInput>,
) -> Answer {
    let me = app.own_profile(&caller).await?;
    let (battle, invitation) =
        versus::battles::invite_tokens::accept_invite(&app.battles, &input.token, &me, now_ms)
            .await?;
    app.notices.match_found(&battle, now_ms).await;
    Ok(Reply(
        201,
        json!({
            "invitation": invitation.view(now_ms),
            "battle": messages::battle_view(&battle),
        }),
    ))
}
