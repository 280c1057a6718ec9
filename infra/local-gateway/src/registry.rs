//! The functions the gateway can run in-process, by crate name (`functions/<name>`).
//! A function in template.yaml without an entry here stops the gateway at start,
//! so the template and this list cannot drift apart silently.

use futures::future::BoxFuture;
use versus::lambda::Invoke;
use versus::{Config, Error};

pub type Builder = for<'a> fn(&'a Config) -> BoxFuture<'a, Result<Invoke, Error>>;

pub fn builder(name: &str) -> Option<Builder> {
    Some(match name {
        "profile-api" => |c| Box::pin(profile_api::function(c)),
        "ws-authorizer" => |c| Box::pin(ws_authorizer::function(c)),
        "ws-presence" => |c| Box::pin(ws_presence::function(c)),
        "ws-matchmaking" => |c| Box::pin(ws_matchmaking::function(c)),
        "invitations-api" => |c| Box::pin(invitations_api::function(c)),
        "invitation-timeouts" => |c| Box::pin(invitation_timeouts::function(c)),
        "points-api" => |c| Box::pin(points_api::function(c)),
        "scheduled-jobs" => |c| Box::pin(scheduled_jobs::function(c)),
        "sms-sender" => |c| Box::pin(sms_sender::function(c)),
        "webhooks" => |c| Box::pin(webhooks::function(c)),
        "domain-events" => |c| Box::pin(domain_events::function(c)),
        "admin-api" => |c| Box::pin(admin_api::function(c)),
        _ => return None,
    })
}
