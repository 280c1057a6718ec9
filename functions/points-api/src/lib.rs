//! points-api: a player's points (F-PT-7), the leaderboard (F-PT-8), the
//! service award (F-PT-12), weekly goals (F-PT-10) and side quests (F-PT-11).

use axum::extract::State;
use serde_json::json;
use std::sync::Arc;
use versus::clock::{local_date, utc_date};
use versus::lambda::Invoke;
use versus::points::award::{self, AwardRequest};
use versus::points::leaderboard;
use versus::points::rules::{self, Streak};
use versus::points::trackers::{week_start, SideQuestInput};
use versus::points::tracking::Tracking;
use versus::points::upgrades;
use versus::profile::Profiles;
use versus::realtime::Pusher;
use versus::{db, Config, Error};
use versus_http::routing::{
    self, get, post, Answer, Authenticated, Now, PathParam, Query, RawBody, Reply, Router,
};

const ACTIVITY_PAGE: i32 = 20;
/// The most side quests a page holds.
const SIDE_QUEST_PAGE: i32 = 100;

pub struct App {
    tracking: Tracking,
    profiles: Profiles,
    pusher: Pusher,
    leaderboard: leaderboard::Board,
    config: Config,
}

pub async fn function(config: &Config) -> Result<Invoke, Error> {
    let sdk = config.aws_sdk().await;
    let client = db::dynamodb(&sdk);
    db::warm_up(&client, &config.tables.users).await;
    let app = Arc::new(App {
        tracking: versus::wiring::tracking(&client, config),
        profiles: versus::wiring::profiles(&client, config),
        pusher: versus::wiring::pusher(&sdk, &client, config)?,
        leaderboard: versus::wiring::leaderboard(&client, config),
        config: config.clone(),
    });
    Ok(versus_http::function(router(app)))
}

type Shared = State<Arc<App>>;

/// The routes (the template's `PointsApiFunction` events name the same ones).
pub fn router(app: Arc<App>) -> Router {
    let routes = Router::new()
        .route("/v1/me/points", get(my_points))
        .route("/v1/leaderboard", get(leaderboard))
        .route("/v1/points/award", post(award_points))
        .route("/v1/me/weekly-goals", get(weekly_goals))
        .route("/v1/side-quests", get(side_quests).post(create_side_quest))
        .route("/v1/me/side-quests/{id}/start", post(start_side_quest))
        .route("/v1/me/side-quests", get(my_side_quests))
        .with_state(app.clone());
    routing::authenticated(
        routes,
        routing::Authentication::new(&app.config, app.profiles.clone()),
    )
}

async fn leaderboard(State(app): Shared, Now(now_ms): Now, query: Query) -> Answer {
    let limit = query.limit("limit", 10, leaderboard::MAX_LIMIT)?;
    let (entries, _) = app.leaderboard.top(limit, now_ms).await?;
    Ok(Reply(200, json!({ "items": entries })))
}

/// F-PT-12: a service awards points (players may not).
async fn award_points(
    State(app): Shared,
    Authenticated(caller): Authenticated,
    Now(now_ms): Now,
    body: RawBody,
) -> Answer {
    caller.require_service()?;
    let request: AwardRequest = body.json()?;
    let (awarded, rewards) = app.tracking.award(&request, now_ms).await?;
    let all: Vec<&award::Awarded> = std::iter::once(&awarded).chain(&rewards).collect();
    upgrades::notify_upgrades(&app.pusher, &all, now_ms).await;
    let status = if awarded.replayed { 200 } else { 201 };
    Ok(Reply(
        status,
        json!({ "award": awarded, "rewards": rewards }),
    ))
}

async fn weekly_goals(
    State(app): Shared,
    Authenticated(caller): Authenticated,
    Now(now_ms): Now,
) -> Answer {
    let today = utc_date(now_ms);
    let goals = app.tracking.weekly_goals(&caller.user_id, today).await?;
    Ok(Reply(
        200,
        json!({
            "week_start": week_start(today),
            "items": goals.iter().map(|g| g.view()).collect::<Vec<_>>(),
        }),
    ))
}

async fn side_quests(
    State(app): Shared,
    Authenticated(caller): Authenticated,
    query: Query,
) -> Answer {
    let limit = query.limit("limit", 20, SIDE_QUEST_PAGE)?;
    let cursor = query.first("cursor");
    let (quests, next) = app
        .tracking
        .side_quests(&caller.user_id, limit, cursor.as_deref())
        .await?;
    Ok(Reply(200, json!({ "items": quests, "next_cursor": next })))
}

async fn create_side_quest(
    State(app): Shared,
    Authenticated(caller): Authenticated,
    Now(now_ms): Now,
    body: RawBody,
) -> Answer {
    caller.require_admin("only an admin can define side quests")?;
    let input: SideQuestInput = body.json()?;
    let quest = app.tracking.create_side_quest(input, now_ms).await?;
    Ok(Reply(201, serde_json::to_value(quest)?))
}

async fn start_side_quest(
    State(app): Shared,
    Authenticated(caller): Authenticated,
    Now(now_ms): Now,
    PathParam(id): PathParam,
) -> Answer {
    app.profiles.require(&caller.user_id).await?;
    let tracker = app
        .tracking
        .start_side_quest(&caller.user_id, &id, now_ms)
        .await?;
    Ok(Reply(201, tracker.view()))
}

async fn my_side_quests(State(app): Shared, Authenticated(caller): Authenticated) -> Answer {
    let quests = app.tracking.user_side_quests(&caller.user_id).await?;
    Ok(Reply(
        200,
        json!({ "items": quests.iter().map(|q| q.view()).collect::<Vec<_>>() }),
    ))
}

/// F-PT-7.
async fn my_points(
    State(app): Shared,
    Authenticated(caller): Authenticated,
    Now(now_ms): Now,
    query: Query,
) -> Answer {
    let p = app.profiles.require(&caller.user_id).await?;
    let limit = query.limit("limit", ACTIVITY_PAGE, 100)?;
    let cursor = query.first("cursor");
    let (activities, next) = app
        .tracking
        .ledger()
        .activities(&caller.user_id, limit, cursor.as_deref())
        .await?;
    let streak = Streak {
        current: p.points.current_streak_days,
        longest: p.points.longest_streak_days,
        last_activity_date: p.points.last_activity_date,
    };
    let total = p.points.total_points;
    Ok(Reply(
        200,
        json!({
            "total_points": total,
            "tier": rules::tier_for(total),
            "level": rules::level_for(total),
            "points_to_next_tier": rules::points_to_next_tier(total),
            "points_to_next_level": rules::points_to_next_level(total),
            "current_streak_days": rules::streak_on(streak, local_date(now_ms, &p.timezone)),
            "longest_streak_days": p.points.longest_streak_days,
            "lifetime": {
                "quizzes_completed": p.points.lifetime_quizzes_completed,
                "projects_created": p.points.lifetime_projects_created,
                "comments_posted": p.points.lifetime_comments_posted,
            },
            "recent_activities": activities,
            "next_cursor": next,
        }),
    ))
}
