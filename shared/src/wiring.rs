//! The composition root: each store built from the configuration, handed
//! only what it uses (its client, its table, its own settings) and the
//! stores it works with. Stores never read `Config` nor build one another;
//! functions, tests and benches build them here.

use crate::battles::store::BattleSettings;
use crate::battles::BattleStore;
use crate::cursor::Cursors;
use crate::error::Error;
use crate::points::jobs::Jobs;
use crate::points::ledger::Ledger;
use crate::points::tracking::Tracking;
use crate::presence::{OnlineIndex, Presence};
use crate::profile::Profiles;
use crate::realtime::Pusher;
use crate::sms::outbox::Outbox;
use crate::sms::store::SmsStore;
use crate::sms::verification::Verification;
use crate::texts::events::EventTexts;
use crate::texts::invites::{InviteSettings, SmsInvites};
use crate::texts::notices::BattleNotices;
use crate::texts::player::PlayerTexts;
use crate::texts::reminders::BattleReminders;
use crate::texts::streaks::StreakAlerts;
use crate::texts::Links;
use crate::Config;
use aws_sdk_dynamodb::Client;

pub fn online_index(config: &Config) -> OnlineIndex {
    OnlineIndex {
        shards: config.online_shards,
        window_secs: config.online_window_secs,
    }
}

pub fn profiles(client: &Client, config: &Config) -> Profiles {
    Profiles::new(client.clone(), &config.tables.users, online_index(config))
}

pub fn presence(client: &Client, config: &Config) -> Presence {
    Presence::new(client.clone(), &config.tables.users, online_index(config))
}

pub fn battles(client: &Client, config: &Config) -> BattleStore {
    let settings = BattleSettings {
        invitation_ttl_secs: config.invitation_ttl_secs,
        direct_invitation_ttl_secs: config.direct_invitation_ttl_secs,
        private_code_ttl_secs: config.private_code_ttl_secs,
        battle_duration_secs: config.battle_duration_secs,
        online_shards: config.online_shards,
    };
    BattleStore::new(
        client.clone(),
        &config.tables,
        settings,
        profiles(client, config),
        Cursors::new(client.clone(), &config.tables.battles),
    )
}

pub fn leaderboard(client: &Client, config: &Config) -> crate::points::leaderboard::Board {
    crate::points::leaderboard::Board {
        client: client.clone(),
        table: config.tables.users.clone(),
        shards: config.leaderboard_shards,
        cache_ms: config.leaderboard_cache_secs * 1000,
    }
}

pub fn ledger(client: &Client, config: &Config) -> Ledger {
    Ledger::new(
        client.clone(),
        &config.tables.users,
        config.leaderboard_shards,
        Cursors::new(client.clone(), &config.tables.users),
        config.texts.streak_alert_window,
    )
}

pub fn tracking(client: &Client, config: &Config) -> Tracking {
    Tracking::new(
        client.clone(),
        &config.tables.users,
        ledger(client, config),
        config.weekly_goal_reward,
    )
}

/// The scheduled jobs, reading `page` users per query, pushing upgrades
/// through `pusher`.
pub fn jobs(client: &Client, config: &Config, pusher: Pusher, page: i32) -> Jobs {
    Jobs::new(
        client.clone(),
        &config.tables.users,
        tracking(client, config),
        pusher,
        page,
    )
}

pub fn verification(client: &Client, config: &Config, outbox: Outbox) -> Verification {
    Verification::new(
        client.clone(),
        &config.tables,
        config.sms.verification_line_kinds.clone(),
        profiles(client, config),
        outbox,
    )
}

/// The pusher of a function whose configuration names the WebSocket API
/// (`WEBSOCKET_API_ENDPOINT`, required).
pub fn pusher(
    sdk: &aws_config::SdkConfig,
    client: &Client,
    config: &Config,
) -> Result<Pusher, Error> {
    let endpoint = config
        .websocket_endpoint
        .as_deref()
        .ok_or_else(|| Error::Config("WEBSOCKET_API_ENDPOINT is not set".into()))?;
    Ok(Pusher::to_endpoint(sdk, endpoint, presence(client, config)))
}

/// The operator's desk; its cursors sign with a key in the sms table (they
/// page its search entries).
pub fn desk(
    sdk: &aws_config::SdkConfig,
    client: &Client,
    config: &Config,
) -> crate::sms::desk::Desk {
    crate::sms::desk::Desk::new(
        outbox(sdk, client, config),
        profiles(client, config),
        Cursors::new(client.clone(), &config.tables.sms),
    )
}

/// The one way to send a text (F-SMS-3), through the SMS queue.
pub fn outbox(sdk: &aws_config::SdkConfig, client: &Client, config: &Config) -> Outbox {
    Outbox::new(
        SmsStore::new(client.clone(), &config.tables.sms),
        aws_sdk_sqs::Client::new(sdk),
        config.sms.clone(),
    )
}

/// F-SMS-21, F-SMS-22: battle pushes, and texts to players who missed them.
pub fn battle_notices(
    pusher: Pusher,
    outbox: Outbox,
    client: &Client,
    config: &Config,
) -> BattleNotices {
    BattleNotices::new(
        player_texts(outbox, client, config),
        presence(client, config),
        pusher,
        Links::new(&config.texts.web_base_url),
        config.texts.only_offline,
    )
}

/// F-SMS-19: invitations by phone number.
pub fn sms_invites(pusher: Pusher, outbox: Outbox, client: &Client, config: &Config) -> SmsInvites {
    SmsInvites::new(
        battles(client, config),
        outbox,
        pusher,
        Links::new(&config.texts.web_base_url),
        InviteSettings {
            message_max_chars: config.texts.invite_message_max_chars,
            max_segments: config.texts.invite_max_segments,
        },
    )
}

/// How every notice reaches a player (profile, then outbox).
pub fn player_texts(outbox: Outbox, client: &Client, config: &Config) -> PlayerTexts {
    PlayerTexts::new(profiles(client, config), outbox)
}

/// F-JOB-4, F-SMS-23.
pub fn battle_reminders(outbox: Outbox, client: &Client, config: &Config) -> BattleReminders {
    BattleReminders::new(
        player_texts(outbox, client, config),
        &config.tables.battles,
        Links::new(&config.texts.web_base_url),
    )
}

/// F-JOB-2, F-SMS-24.
pub fn streak_alerts(outbox: Outbox, client: &Client, config: &Config) -> StreakAlerts {
    StreakAlerts::new(
        player_texts(outbox, client, config),
        client.clone(),
        &config.tables.users,
        Links::new(&config.texts.web_base_url),
        config.texts.streak_alert_window,
    )
}

/// F-EV-1, F-SMS-25: texts caused by other services' events.
pub fn event_texts(outbox: Outbox, client: &Client, config: &Config) -> EventTexts {
    EventTexts::new(
        player_texts(outbox, client, config),
        presence(client, config),
        Links::new(&config.texts.web_base_url),
        config.online_window_secs,
    )
}
