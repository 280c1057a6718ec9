//! points-api: a player's points (F-PT-7), the leaderboard (F-PT-8), the
//! service award (F-PT-12), weekly goals (F-PT-10) and side quests (F-PT-11).

use lambda_http::http::Method;
use lambda_http::{Body, Request, Response};
use serde_json::{json, Value};
use std::sync::Arc;
use versus::auth::Caller;
use versus::clock::{local_date, utc_date};
use versus::lambda::{self, Invoke};
use versus::points::leaderboard;
use versus::points::ledger::{self, AwardRequest};
use versus::points::rules::{self, Streak};
use versus::points::tracking::{SideQuestInput, Tracking};
use versus::points::upgrades;
use versus::profile::{self, Profiles};
use versus::realtime::Pusher;
use versus::{db, http, Config, Error};

const ACTIVITY_PAGE: i32 = 20;

pub struct App {
    tracking: Tracking,
    profiles: Profiles,
    pusher: Pusher,
    client: aws_sdk_dynamodb::Client,
    config: Config,
}

pub async fn function(config: &Config) -> Result<Invoke, Error> {
    let sdk = db::aws_config().await;
    let client = db::dynamodb(&sdk);
    db::warm_up(&client, &config.tables.users).await;
    let app = Arc::new(App {
        tracking: Tracking::new(client.clone(), config),
        profiles: Profiles::new(client.clone(), config),
        pusher: Pusher::from_config(&sdk, client.clone(), config)?,
        client,
        config: config.clone(),
    });
    Ok(lambda::http(move |req| {
        let app = app.clone();
        async move { app.handle(req, versus::now_ms()).await }
    }))
}

impl App {
    pub async fn handle(&self, req: Request, now_ms: i64) -> Response<Body> {
        let throttle = self.config.last_seen_throttle_secs;
        let req = &req;
        http::authenticated(req, &self.profiles, throttle, now_ms, |caller| async move {
            self.route(req, &caller, now_ms).await
        })
        .await
    }

    async fn route(
        &self,
        req: &Request,
        caller: &Caller,
        now_ms: i64,
    ) -> Result<(u16, Value), Error> {
        let path = req.uri().path().trim_end_matches('/');
        let segments: Vec<&str> = path.split('/').skip(1).collect();
        match (req.method().clone(), segments.as_slice()) {
            (Method::GET, ["v1", "me", "points"]) => self.my_points(req, caller, now_ms).await,
            (Method::GET, ["v1", "leaderboard"]) => {
                let limit = http::limit_param(req, "limit", 10, leaderboard::MAX_LIMIT)?;
                let (entries, _) = leaderboard::top(
                    &self.client,
                    &self.config.tables.users,
                    self.config.leaderboard_shards,
                    limit,
                )
                .await?;
                Ok((200, json!({ "items": entries })))
            }
            (Method::POST, ["v1", "points", "award"]) => {
                caller.require_service()?;
                let request: AwardRequest = http::json_body(req)?;
                let (awarded, rewards) = self.tracking.award(&request, now_ms).await?;
                let all: Vec<&ledger::Awarded> =
                    std::iter::once(&awarded).chain(&rewards).collect();
                upgrades::notify_upgrades(&self.pusher, &all, now_ms).await;
                let status = if awarded.replayed { 200 } else { 201 };
                Ok((status, json!({ "award": awarded, "rewards": rewards })))
            }
            (Method::GET, ["v1", "me", "weekly-goals"]) => {
                let today = utc_date(now_ms);
                let goals = self.tracking.weekly_goals(&caller.user_id, today).await?;
                Ok((
                    200,
                    json!({
                        "week_start": versus::points::tracking::week_start(today),
                        "items": goals.iter().map(|g| g.view()).collect::<Vec<_>>(),
                    }),
                ))
            }
            (Method::GET, ["v1", "side-quests"]) => {
                let quests = self.tracking.side_quests().await?;
                Ok((200, json!({ "items": quests })))
            }
            (Method::POST, ["v1", "side-quests"]) => {
                if !caller.is_admin() {
                    return Err(Error::Forbidden(
                        "only an admin can define side quests".into(),
                    ));
                }
                let input: SideQuestInput = http::json_body(req)?;
                let quest = self.tracking.create_side_quest(input, now_ms).await?;
                Ok((201, serde_json::to_value(quest)?))
            }
            (Method::POST, ["v1", "me", "side-quests", _, "start"]) => {
                self.own_profile(caller).await?;
                let id = http::path_param(req, "id").unwrap_or_default();
                let tracker = self
                    .tracking
                    .start_side_quest(&caller.user_id, &id, now_ms)
                    .await?;
                Ok((201, tracker.view()))
            }
            (Method::GET, ["v1", "me", "side-quests"]) => {
                let quests = self.tracking.user_side_quests(&caller.user_id).await?;
                Ok((
                    200,
                    json!({ "items": quests.iter().map(|q| q.view()).collect::<Vec<_>>() }),
                ))
            }
            _ => Err(Error::not_found(
                "route_not_found",
                format!("no route {} {}", req.method(), path),
            )),
        }
    }

    async fn own_profile(&self, caller: &Caller) -> Result<profile::Profile, Error> {
        self.profiles.require(&caller.user_id).await
    }

    /// F-PT-7.
    async fn my_points(
        &self,
        req: &Request,
        caller: &Caller,
        now_ms: i64,
    ) -> Result<(u16, Value), Error> {
        let p = self.own_profile(caller).await?;
        let limit = http::limit_param(req, "limit", ACTIVITY_PAGE, 100)?;
        let cursor = http::query_param(req, "cursor");
        let (activities, next) = self
            .tracking
            .ledger()
            .activities(&caller.user_id, limit, cursor.as_deref())
            .await?;
        let streak = Streak {
            current: p.current_streak_days,
            longest: p.longest_streak_days,
            last_activity_date: p.last_activity_date,
        };
        let total = p.total_points;
        Ok((
            200,
            json!({
                "total_points": total,
                "tier": rules::tier_for(total),
                "level": rules::level_for(total),
                "points_to_next_tier": rules::points_to_next_tier(total),
                "points_to_next_level": rules::points_to_next_level(total),
                "current_streak_days": rules::streak_on(streak, local_date(now_ms, &p.timezone)),
                "longest_streak_days": p.longest_streak_days,
                "lifetime": {
                    "quizzes_completed": p.lifetime_quizzes_completed,
                    "projects_created": p.lifetime_projects_created,
                    "comments_posted": p.lifetime_comments_posted,
                },
                "recent_activities": activities,
                "next_cursor": next,
            }),
        ))
    }
}
