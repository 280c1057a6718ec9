//! admin-api: the operator's desk over HTTP (F-SMS-2, F-SMS-11, F-ID-2).
//! Admins only (`role: admin` in the token); everyone else gets 403 on
//! every route, before anything is read.
//! - `GET /v1/admin/sms?number=&user_id=&message_type=&status=&from=&to=&limit=&cursor=`
//! - `GET /v1/admin/sms/{id}`: one text and its timeline;
//! - `POST /v1/admin/sms/{id}/cancel`: a deferred text is never sent;
//! - `POST /v1/admin/sms/{id}/resend`: a failed text goes again, once;
//! - `GET /v1/admin/opt-outs?number=`, `POST /v1/admin/opt-outs` and
//!   `POST /v1/admin/opt-outs/remove` (`{number, reason}`).

use axum::extract::State;
use serde_json::json;
use std::sync::Arc;
use versus::auth::Caller;
use versus::lambda::Invoke;
use versus::phone::PhoneNumber;
use versus::sms::desk::{text_view, Desk, OptOutInput, Search, MAX_PAGE};
use versus::sms::optouts::OptAction;
use versus::{db, Config, Error};
use versus_http::routing::{
    self, get, post, Answer, ApiError, Authenticated, JsonBody, Now, PathParam, Query, Reply,
    Router,
};

pub struct App {
    desk: Desk,
    config: Config,
    profiles: versus::profile::Profiles,
}

pub async fn function(config: &Config) -> Result<Invoke, Error> {
    let sdk = config.aws_sdk().await;
    let client = db::dynamodb(&sdk);
    db::warm_up(&client, &config.tables.sms).await;
    let app = Arc::new(App {
        desk: versus::wiring::desk(&sdk, &client, config),
        profiles: versus::wiring::profiles(&client, config),
        config: config.clone(),
    });
    Ok(versus_http::function(router(app)))
}

type Shared = State<Arc<App>>;

/// The routes (the template's `AdminApiFunction` events name the same ones).
pub fn router(app: Arc<App>) -> Router {
    let routes = Router::new()
        .route("/v1/admin/sms", get(search))
        .route("/v1/admin/sms/{id}", get(text))
        .route("/v1/admin/sms/{id}/cancel", post(cancel))
        .route("/v1/admin/sms/{id}/resend", post(resend))
        .route("/v1/admin/opt-outs", get(opt_out).post(add_opt_out))
        .route("/v1/admin/opt-outs/remove", post(remove_opt_out))
        .with_state(app.clone())
        // Before any extractor reads the request: a player's bad body is a
        // 403 too, not a 400 that tells them what the route takes.
        .layer(axum::middleware::from_fn(
            |req: axum::extract::Request, next: axum::middleware::Next| async move {
                const DENIED: &str = "the operator's desk is for admins";
                let allowed = match req.extensions().get::<Caller>() {
                    Some(caller) => caller.require_admin(DENIED),
                    None => Err(Error::Forbidden(DENIED.into())),
                };
                match allowed {
                    Ok(()) => next.run(req).await,
                    Err(denied) => axum::response::IntoResponse::into_response(ApiError(denied)),
                }
            },
        ));
    routing::authenticated(
        routes,
        routing::Authentication::new(&app.config, app.profiles.clone()),
    )
}

/// An RFC 3339 instant from the query, as ms.
fn instant(query: &Query, name: &str) -> Result<Option<i64>, Error> {
    query
        .first(name)
        .map(|raw| {
            chrono::DateTime::parse_from_rfc3339(&raw)
                .map(|t| t.timestamp_millis())
                .map_err(|_| Error::validation(format!("{name} must be an RFC 3339 time")))
        })
        .transpose()
}

fn wire<T: serde::de::DeserializeOwned>(query: &Query, name: &str) -> Result<Option<T>, Error> {
    query
        .first(name)
        .map(|raw| {
            serde_json::from_value(json!(raw))
                .map_err(|_| Error::validation(format!("{name} {raw:?} is not one of its values")))
        })
        .transpose()
}

async fn search(
    State(app): Shared,
    Authenticated(caller): Authenticated,
    Now(now_ms): Now,
    query: Query,
) -> Answer {
    let admin = caller.user_id.as_str();
    let user_id = query.first("user_id");
    if let Some(user) = &user_id {
        if user.is_empty() || user.len() > 256 || user.contains('#') {
            return Err(Error::validation("user_id is not a user id").into());
        }
    }
    let mut search = Search {
        number: query
            .first("number")
            .as_deref()
            .map(PhoneNumber::parse)
            .transpose()?,
        user_id,
        message_type: wire(&query, "message_type")?,
        status: wire(&query, "status")?,
        ..Default::default()
    };
    search.range(instant(&query, "from")?, instant(&query, "to")?, now_ms)?;
    let limit = query.limit("limit", 20, MAX_PAGE)?;
    let page = app
        .desk
        .search(&search, limit, query.first("cursor").as_deref(), admin)
        .await?;
    Ok(Reply(
        200,
        json!({
            "items": page.texts.iter().map(text_view).collect::<Vec<_>>(),
            "next_cursor": page.next_cursor,
        }),
    ))
}

async fn text(State(app): Shared, PathParam(id): PathParam) -> Answer {
    Ok(Reply(200, text_view(&app.desk.text(&id).await?)))
}

async fn cancel(
    State(app): Shared,
    Authenticated(caller): Authenticated,
    Now(now_ms): Now,
    PathParam(id): PathParam,
) -> Answer {
    let admin = caller.user_id.as_str();
    Ok(Reply(
        200,
        text_view(&app.desk.cancel(&id, admin, now_ms).await?),
    ))
}

async fn resend(
    State(app): Shared,
    Authenticated(caller): Authenticated,
    Now(now_ms): Now,
    PathParam(id): PathParam,
) -> Answer {
    let admin = caller.user_id.as_str();
    Ok(Reply(
        201,
        text_view(&app.desk.resend(&id, admin, now_ms).await?),
    ))
}

async fn opt_out(State(app): Shared, query: Query) -> Answer {
    let number = query
        .first("number")
        .ok_or_else(|| Error::validation("number is required"))?;
    Ok(Reply(200, app.desk.opt_out_of(&number).await?))
}

async fn add_opt_out(
    State(app): Shared,
    Authenticated(caller): Authenticated,
    Now(now_ms): Now,
    JsonBody(input): JsonBody<OptOutInput>,
) -> Answer {
    change_opt_out(&app, &caller, input, OptAction::OptedOut, now_ms).await
}

async fn remove_opt_out(
    State(app): Shared,
    Authenticated(caller): Authenticated,
    Now(now_ms): Now,
    JsonBody(input): JsonBody<OptOutInput>,
) -> Answer {
    change_opt_out(&app, &caller, input, OptAction::OptedIn, now_ms).await
}

async fn change_opt_out(
    app: &App,
    caller: &Caller,
    input: OptOutInput,
    action: OptAction,
    now_ms: i64,
) -> Answer {
    let admin = caller.user_id.as_str();
    let view = app
        .desk
        .change_opt_out(input, action, admin, now_ms)
        .await?;
    Ok(Reply(200, view))
}
