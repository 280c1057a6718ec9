//! Configuration, read once at init from the environment (or, in the local
//! gateway, from the environment `template.yaml` gives the function).

use crate::error::Error;
use crate::secret::Secret;
use std::collections::HashMap;

mod endpoints;
mod secrets;

/// How callers are authenticated when a function has to verify a token itself
/// (the WebSocket authorizer; HTTP routes are verified by API Gateway).
#[derive(Clone, Debug)]
pub enum JwtKeys {
    /// Local development: HS256 tokens signed with a per-checkout secret.
    DevSecret(Secret),
    /// Deployed: RS256/ES256 tokens checked against the issuer's JWKS.
    Jwks { url: String },
}

/// API Gateway's JWT authorizer settings (F-ID-1): the one issuer tokens
/// must name, and the audiences (`aud`, else `client_id`) they may carry.
#[derive(Clone, Debug)]
pub struct JwtConfig {
    pub keys: JwtKeys,
    pub issuer: String,
    pub audiences: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct Tables {
    pub users: String,
    pub battles: String,
    pub sms: String,
}

#[derive(Clone, Debug)]
pub struct Config {
    pub tables: Tables,
    pub jwt: JwtConfig,
    /// Management API endpoint of the WebSocket API (`https://{api}.execute-api.{region}.amazonaws.com/{stage}`).
    pub websocket_endpoint: Option<String>,
    /// Number of shards of the online-players index (F-MM-1).
    pub online_shards: u32,
    /// F-PR-2: `last_seen_at` is written at most once per this many seconds.
    pub last_seen_throttle_secs: i64,
    /// F-PR-4: seen within this window counts as online.
    pub online_window_secs: i64,
    /// F-MM-2: a random-opponent invitation waits this long for an answer.
    pub invitation_ttl_secs: i64,
    /// F-MM-7: a direct invitation (by username) stays open this long.
    pub direct_invitation_ttl_secs: i64,
    /// F-MM-6: a private match code is valid this long.
    pub private_code_ttl_secs: i64,
    /// F-MM-9: a battle's deadline, counted from its creation.
    pub battle_duration_secs: i64,
    /// The SQS delay queue that expires random-opponent invitations (F-MM-2).
    pub invitation_timeouts_queue_url: Option<String>,
    /// Shards of the leaderboard index (F-PT-8).
    pub leaderboard_shards: u32,
    /// How old the cached top of the leaderboard may be (0: read live).
    pub leaderboard_cache_secs: i64,
    /// F-PT-9: battle points for a win, a tie, and taking part (a loss).
    pub battle_points: BattlePoints,
    /// F-PT-10: the reward of a completed weekly goal.
    pub weekly_goal_reward: i64,
    /// F-JOB-7: a scheduled job stops starting new pages after this many seconds.
    pub job_budget_secs: i64,
    /// The queue a scheduled job continues through when it stops early.
    pub jobs_queue_url: Option<String>,
    pub sms: SmsConfig,
    pub texts: TextsConfig,
    /// The Secrets Manager secret with the SMS providers' secrets; read by
    /// [`Config::with_secrets`] at init.
    pub sms_secrets_arn: Option<String>,
    /// Running under `sam local` (SAM CLI sets `AWS_SAM_LOCAL=true` in its
    /// containers), which runs no JWT authorizer.
    pub sam_local: bool,
    /// The `AWS_ENDPOINT_URL_<SERVICE>` settings of the function's own
    /// environment, used by [`Config::aws_sdk`].
    pub aws_endpoints: endpoints::Endpoints,
}

/// The texts about battles (F-SMS-19 … F-SMS-22).
#[derive(Clone, Debug)]
pub struct TextsConfig {
    /// The web client's public base URL: battle and invite links are built on it.
    pub web_base_url: String,
    /// F-SMS-21, F-SMS-22: text match and result notices only to players with
    /// no open WebSocket connection (online players got the push).
    pub only_offline: bool,
    /// The longest personal message an SMS invitation may carry (characters).
    pub invite_message_max_chars: usize,
    /// An invitation text may not be longer than this many segments (F-SMS-6).
    pub invite_max_segments: u32,
    /// Invite-link previews allowed per source IP per minute (F-SMS-20).
    pub previews_per_ip_minute: u64,
    /// F-SMS-24: the local evening hours streak alerts go out in.
    pub streak_alert_window: crate::points::rules::EveningWindow,
}

#[derive(Clone, Debug)]
pub struct SmsConfig {
    /// The queue `sms-sender` consumes (F-SMS-3).
    pub queue_url: Option<String>,
    /// The provider for numbers no route names: `console` (default), `sns`,
    /// `twilio` or `dmark` (F-SMS-1).
    pub provider: String,
    /// F-SMS-26: country calling code → provider (`SMS_ROUTES=256=dmark,254=dmark`).
    pub routes: Vec<(u16, String)>,
    /// F-SMS-26: where a transient failure of the first provider goes, once.
    pub fallback_provider: Option<String>,
    /// F-SMS-4: after a transient failure the message waits this × 2^(attempt − 1)
    /// seconds (at most 900) before it is received again.
    pub retry_base_secs: i64,
    /// F-SMS-4: one provider call (token fetches included) gets this long;
    /// two of them (primary, then fallback) fit in the sender's timeout.
    pub send_budget_secs: u64,
    /// How long a claimed log belongs to its sender; a lease that ran out is
    /// taken again. Longer than the sender's timeout, so a live sender is
    /// never overtaken.
    pub lease_secs: i64,
    /// A log still pending this long after it was queued is queued again by
    /// the reconciler (the queue lost it, or it was never put there).
    pub requeue_after_secs: i64,
    pub twilio: TwilioConfig,
    pub dmark: DmarkConfig,
    pub sns: SnsConfig,
    /// F-SMS-27: ISO regions a message may go to.
    pub allowed_regions: Vec<String>,
    /// F-SMS-6: micro-dollars per segment, by region, and the default.
    pub rates: Vec<(String, u64)>,
    pub default_rate_micros: u64,
    /// F-SMS-12: promotional messages stop above this month's spend (micro-dollars).
    pub monthly_cap_micros: u64,
    /// F-SMS-27: verification codes per country calling code per hour.
    pub verification_per_country_hour: u32,
    /// F-SMS-27: the kinds of line verification codes may go to.
    pub verification_line_kinds: Vec<crate::phone::LineKind>,
    /// The public base URL webhooks are reached at, as the provider signs it
    /// (`https://api.example.com`); unset: `https://` + the request's host.
    /// Status callback and DLR URLs are built on it.
    pub webhook_base_url: Option<String>,
}

pub const SMS_PROVIDERS: [&str; 4] = ["console", "sns", "twilio", "dmark"];

#[derive(Clone, Debug, Default)]
pub struct TwilioConfig {
    pub account_sid: Option<String>,
    /// Signs requests to Twilio and verifies Twilio's webhook signatures
    /// (F-SMS-11); unset: Twilio webhooks answer 503.
    pub auth_token: Option<Secret>,
    /// A number (`+1555…`) or a Messaging Service SID (`MG…`).
    pub from: Option<String>,
    /// `https://api.twilio.com`; tests point it at a stub.
    pub api_base: String,
}

#[derive(Clone, Debug, Default)]
pub struct DmarkConfig {
    /// `https://sms.dmarkmobile.com`
    pub base_url: Option<String>,
    pub username: Option<String>,
    pub password: Option<Secret>,
    /// How long a token without a readable `exp` is kept (seed 003: 3000 s).
    pub token_fallback_secs: i64,
    /// Shared secret DMark's delivery reports carry back in their URL (F-SMS-11).
    pub dlr_secret: Option<Secret>,
}

#[derive(Clone, Debug, Default)]
pub struct SnsConfig {
    pub sender_id: Option<String>,
    pub origination_number: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BattlePoints {
    pub win: i64,
    pub tie: i64,
    pub participation: i64,
}

impl Config {
    pub fn from_env() -> Result<Self, Error> {
        Self::from_lookup(|key| std::env::var(key).ok())
    }

    pub fn from_map(map: &HashMap<String, String>) -> Result<Self, Error> {
        Self::from_lookup(|key| map.get(key).cloned())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let get = |key: &str| lookup(key).filter(|v| !v.trim().is_empty());
        let required = |key: &str| {
            get(key).ok_or_else(|| Error::Config(format!("environment variable {key} is not set")))
        };
        let number = |key: &str, default: i64| -> Result<i64, Error> {
            match get(key) {
                None => Ok(default),
                Some(v) => v
                    .parse()
                    .map_err(|_| Error::Config(format!("{key} must be an integer, got {v:?}"))),
            }
        };

        // SQS delays a message by at most 900 s, which bounds the invitation timeout.
        let bounded = |key: &str, default: i64, range: std::ops::RangeInclusive<i64>| {
            let v = number(key, default)?;
            if range.contains(&v) {
                Ok(v)
            } else {
                Err(Error::Config(format!(
                    "{key} must be between {} and {}, got {v}",
                    range.start(),
                    range.end()
                )))
            }
        };

        let keys = match (
            get("JWT_DEV_SECRET"),
            get("JWT_JWKS_URL"),
            get("JWT_ISSUER"),
        ) {
            (Some(secret), _, _) => JwtKeys::DevSecret(secret.into()),
            (None, Some(url), _) => JwtKeys::Jwks { url },
            (None, None, Some(issuer)) => JwtKeys::Jwks {
                url: format!("{}/.well-known/jwks.json", issuer.trim_end_matches('/')),
            },
            (None, None, None) => {
                return Err(Error::Config(
                    "set JWT_DEV_SECRET (local) or JWT_ISSUER / JWT_JWKS_URL (deployed)".into(),
                ))
            }
        };
        let online_shards = number("ONLINE_SHARDS", 16)?;
        if !(1..=256).contains(&online_shards) {
            return Err(Error::Config(
                "ONLINE_SHARDS must be between 1 and 256".into(),
            ));
        }

        Ok(Config {
            tables: Tables {
                users: required("USERS_TABLE")?,
                battles: required("BATTLES_TABLE")?,
                sms: required("SMS_TABLE")?,
            },
            jwt: JwtConfig {
                keys,
                issuer: required("JWT_ISSUER")?,
                audiences: {
                    let audiences: Vec<String> = required("JWT_AUDIENCE")?
                        .split(',')
                        .map(|a| a.trim().to_string())
                        .filter(|a| !a.is_empty())
                        .collect();
                    if audiences.is_empty() {
                        return Err(Error::Config(
                            "JWT_AUDIENCE must name at least one audience".into(),
                        ));
                    }
                    audiences
                },
            },
            websocket_endpoint: get("WEBSOCKET_API_ENDPOINT"),
            online_shards: online_shards as u32,
            last_seen_throttle_secs: number("LAST_SEEN_THROTTLE_SECONDS", 60)?,
            online_window_secs: number("ONLINE_WINDOW_SECONDS", 300)?,
            invitation_ttl_secs: bounded("INVITATION_TTL_SECONDS", 60, 1..=900)?,
            direct_invitation_ttl_secs: bounded(
                "DIRECT_INVITATION_TTL_SECONDS",
                24 * 3600,
                60..=30 * 24 * 3600,
            )?,
            private_code_ttl_secs: bounded("PRIVATE_CODE_TTL_SECONDS", 900, 1..=7 * 24 * 3600)?,
            battle_duration_secs: bounded(
                "BATTLE_DURATION_SECONDS",
                24 * 3600,
                60..=30 * 24 * 3600,
            )?,
            invitation_timeouts_queue_url: get("INVITATION_TIMEOUTS_QUEUE_URL"),
            leaderboard_shards: bounded("LEADERBOARD_SHARDS", 8, 1..=256)? as u32,
            leaderboard_cache_secs: bounded("LEADERBOARD_CACHE_SECONDS", 0, 0..=300)?,
            battle_points: BattlePoints {
                win: bounded("BATTLE_POINTS_WIN", 50, 1..=100_000)?,
                tie: bounded("BATTLE_POINTS_TIE", 25, 1..=100_000)?,
                participation: bounded("BATTLE_POINTS_PARTICIPATION", 10, 1..=100_000)?,
            },
            weekly_goal_reward: bounded("WEEKLY_GOAL_REWARD", 30, 1..=100_000)?,
            job_budget_secs: bounded("JOB_BUDGET_SECONDS", 600, 1..=900)?,
            jobs_queue_url: get("JOBS_QUEUE_URL"),
            sms: SmsConfig {
                queue_url: get("SMS_QUEUE_URL"),
                provider: sms_provider("SMS_PROVIDER", get("SMS_PROVIDER"))?
                    .unwrap_or_else(|| "console".into()),
                routes: parse_routes(&get("SMS_ROUTES").unwrap_or_default())?,
                fallback_provider: sms_provider(
                    "SMS_FALLBACK_PROVIDER",
                    get("SMS_FALLBACK_PROVIDER"),
                )?,
                retry_base_secs: bounded("SMS_RETRY_BASE_SECONDS", 30, 0..=900)?,
                send_budget_secs: bounded("SMS_SEND_BUDGET_SECONDS", 10, 1..=300)? as u64,
                lease_secs: bounded("SMS_LEASE_SECONDS", 60, 1..=3600)?,
                requeue_after_secs: bounded("SMS_REQUEUE_AFTER_SECONDS", 120, 1..=3600)?,
                twilio: TwilioConfig {
                    account_sid: get("TWILIO_ACCOUNT_SID"),
                    auth_token: get("TWILIO_AUTH_TOKEN").map(Secret::from),
                    from: get("TWILIO_FROM"),
                    api_base: get("TWILIO_API_BASE")
                        .unwrap_or_else(|| "https://api.twilio.com".into())
                        .trim_end_matches('/')
                        .to_string(),
                },
                dmark: DmarkConfig {
                    base_url: get("DMARK_BASE_URL").map(|u| u.trim_end_matches('/').to_string()),
                    username: get("DMARK_USERNAME"),
                    password: get("DMARK_PASSWORD").map(Secret::from),
                    token_fallback_secs: bounded("DMARK_TOKEN_FALLBACK_SECONDS", 3000, 1..=86_400)?,
                    dlr_secret: get("DMARK_DLR_SECRET").map(Secret::from),
                },
                sns: SnsConfig {
                    sender_id: get("SNS_SENDER_ID"),
                    origination_number: get("SNS_ORIGINATION_NUMBER"),
                },
                allowed_regions: get("SMS_ALLOWED_REGIONS")
                    .unwrap_or_else(|| DEFAULT_SMS_REGIONS.into())
                    .split(',')
                    .map(|r| r.trim().to_ascii_uppercase())
                    .filter(|r| !r.is_empty())
                    .collect(),
                rates: parse_rates(
                    &get("SMS_RATES_MICROS").unwrap_or_else(|| DEFAULT_SMS_RATES.into()),
                )?,
                default_rate_micros: number("SMS_DEFAULT_RATE_MICROS", 50_000)? as u64,
                monthly_cap_micros: number("SMS_MONTHLY_CAP_MICROS", 100_000_000)? as u64,
                verification_per_country_hour: bounded(
                    "SMS_VERIFICATIONS_PER_COUNTRY_HOUR",
                    200,
                    1..=1_000_000,
                )? as u32,
                verification_line_kinds: get("SMS_VERIFICATION_LINE_KINDS")
                    .unwrap_or_else(|| "mobile,fixed_line_or_mobile".into())
                    .split(',')
                    .map(str::trim)
                    .filter(|k| !k.is_empty())
                    .map(|k| {
                        crate::phone::LineKind::from_name(k).ok_or_else(|| {
                            Error::Config(format!(
                                "SMS_VERIFICATION_LINE_KINDS: unknown kind {k:?}"
                            ))
                        })
                    })
                    .collect::<Result<_, _>>()?,
                webhook_base_url: get("WEBHOOK_BASE_URL")
                    .map(|u| u.trim_end_matches('/').to_string()),
            },
            sms_secrets_arn: get("SMS_SECRETS_ARN"),
            aws_endpoints: endpoints::Endpoints::from_lookup(&get),
            sam_local: get("AWS_SAM_LOCAL").as_deref() == Some("true"),
            texts: TextsConfig {
                web_base_url: web_base_url(get("WEB_BASE_URL"))?,
                only_offline: match get("BATTLE_TEXTS_ONLY_OFFLINE").as_deref() {
                    None | Some("true") => true,
                    Some("false") => false,
                    Some(other) => {
                        return Err(Error::Config(format!(
                            "BATTLE_TEXTS_ONLY_OFFLINE must be true or false, got {other:?}"
                        )))
                    }
                },
                invite_message_max_chars: bounded("SMS_INVITE_MESSAGE_MAX_CHARS", 100, 0..=300)?
                    as usize,
                invite_max_segments: bounded("SMS_INVITE_MAX_SEGMENTS", 3, 1..=10)? as u32,
                previews_per_ip_minute: bounded("INVITE_PREVIEWS_PER_IP_MINUTE", 30, 1..=10_000)?
                    as u64,
                streak_alert_window: evening_window(get("STREAK_ALERT_WINDOW"))?,
            },
        })
    }
}

/// `STREAK_ALERT_WINDOW`: `HH-HH` in local time, start before end, outside
/// quiet hours (08-21, F-SMS-14), so an alert is never held until morning.
fn evening_window(raw: Option<String>) -> Result<crate::points::rules::EveningWindow, Error> {
    let Some(raw) = raw else {
        return Ok(Default::default());
    };
    let bad = || {
        Error::Config(format!(
            "STREAK_ALERT_WINDOW must be HH-HH within 08-21 (start before end), got {raw:?}"
        ))
    };
    let (start, end) = raw.trim().split_once('-').ok_or_else(bad)?;
    let start: u32 = start.trim().parse().map_err(|_| bad())?;
    let end: u32 = end.trim().parse().map_err(|_| bad())?;
    if start >= end || start < 8 || end > 21 {
        return Err(bad());
    }
    Ok(crate::points::rules::EveningWindow {
        start_hour: start,
        end_hour: end,
    })
}

/// Links in texts must be absolute http(s) URLs; a trailing `/` is dropped.
fn web_base_url(raw: Option<String>) -> Result<String, Error> {
    let url = raw.unwrap_or_else(|| "http://localhost:8080".into());
    let url = url.trim().trim_end_matches('/').to_string();
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    match rest {
        Some(host) if !host.is_empty() && !host.contains(char::is_whitespace) => Ok(url),
        _ => Err(Error::Config(format!(
            "WEB_BASE_URL must be an http(s) URL, got {url:?}"
        ))),
    }
}

/// Where texts may go unless configured otherwise (F-SMS-27).
const DEFAULT_SMS_REGIONS: &str = "UG,KE,TZ,RW,NG,GH,ZA,US,CA,GB,FR,DE";
/// Micro-dollars per segment (F-SMS-6); `SMS_RATES_MICROS` replaces it.
const DEFAULT_SMS_RATES: &str = "UG=30000,KE=25000,TZ=30000,RW=30000,US=8300,CA=8300,GB=40000";

fn sms_provider(key: &str, value: Option<String>) -> Result<Option<String>, Error> {
    match value.map(|v| v.trim().to_ascii_lowercase()) {
        Some(v) if !SMS_PROVIDERS.contains(&v.as_str()) => Err(Error::Config(format!(
            "{key}: {v:?} is not one of {}",
            SMS_PROVIDERS.join(", ")
        ))),
        other => Ok(other),
    }
}

/// `256=dmark,254=dmark` → [(256, dmark), (254, dmark)].
fn parse_routes(raw: &str) -> Result<Vec<(u16, String)>, Error> {
    raw.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|pair| {
            let (code, provider) = pair.split_once('=').ok_or_else(|| {
                Error::Config(format!("SMS_ROUTES: {pair:?} is not CALLINGCODE=PROVIDER"))
            })?;
            let code =
                code.trim().trim_start_matches('+').parse().map_err(|_| {
                    Error::Config(format!("SMS_ROUTES: {pair:?} has no calling code"))
                })?;
            let provider =
                sms_provider("SMS_ROUTES", Some(provider.to_string()))?.expect("a value was given");
            Ok((code, provider))
        })
        .collect()
}

/// `UG=30000,US=8300` → [(UG, 30000), (US, 8300)].
fn parse_rates(raw: &str) -> Result<Vec<(String, u64)>, Error> {
    raw.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|pair| {
            let (region, rate) = pair.split_once('=').ok_or_else(|| {
                Error::Config(format!("SMS_RATES_MICROS: {pair:?} is not REGION=MICROS"))
            })?;
            let rate = rate.trim().parse().map_err(|_| {
                Error::Config(format!("SMS_RATES_MICROS: {pair:?} has no whole number"))
            })?;
            Ok((region.trim().to_ascii_uppercase(), rate))
        })
        .collect()
}

#[cfg(test)]
mod tests;
