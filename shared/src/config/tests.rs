use super::*;

pub(super) fn base_config() -> Config {
    Config::from_map(&base()).unwrap()
}

fn base() -> HashMap<String, String> {
    [
        ("USERS_TABLE", "u"),
        ("BATTLES_TABLE", "b"),
        ("SMS_TABLE", "s"),
        ("JWT_DEV_SECRET", "x"),
        ("JWT_ISSUER", "versus-local"),
        ("JWT_AUDIENCE", "versus"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

#[test]
fn defaults_apply() {
    let c = Config::from_map(&base()).unwrap();
    assert_eq!(c.online_shards, 16);
    assert_eq!(c.last_seen_throttle_secs, 60);
    assert_eq!(c.online_window_secs, 300);
    assert_eq!(c.invitation_ttl_secs, 60);
    assert_eq!(c.private_code_ttl_secs, 900);
    assert!(c.invitation_timeouts_queue_url.is_none());
    assert!(matches!(c.jwt.keys, JwtKeys::DevSecret(_)));
}

#[test]
fn secrets_never_print() {
    let mut env = base();
    for (k, v) in [
        ("JWT_DEV_SECRET", "dev-secret-value"),
        ("TWILIO_AUTH_TOKEN", "twilio-token-value"),
        ("DMARK_PASSWORD", "dmark-password-value"),
        ("DMARK_DLR_SECRET", "dlr-secret-value"),
    ] {
        env.insert(k.into(), v.into());
    }
    let printed = format!("{:?}", Config::from_map(&env).unwrap());
    assert!(!printed.contains("-value"), "{printed}");
    assert!(printed.contains("[redacted]"));
}

#[test]
fn missing_table_is_a_clear_error() {
    let mut env = base();
    env.remove("USERS_TABLE");
    let err = Config::from_map(&env).unwrap_err();
    assert!(err.to_string().contains("USERS_TABLE"));
}

#[test]
fn jwks_url_derived_from_issuer() {
    let mut env = base();
    env.remove("JWT_DEV_SECRET");
    env.insert("JWT_ISSUER".into(), "https://auth.example.com/".into());
    let c = Config::from_map(&env).unwrap();
    match c.jwt.keys {
        JwtKeys::Jwks { url } => {
            assert_eq!(url, "https://auth.example.com/.well-known/jwks.json")
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn invitation_timeout_is_bounded_by_the_sqs_delay() {
    let mut env = base();
    env.insert("INVITATION_TTL_SECONDS".into(), "901".into());
    assert!(Config::from_map(&env).is_err());
    env.insert("INVITATION_TTL_SECONDS".into(), "2".into());
    assert_eq!(Config::from_map(&env).unwrap().invitation_ttl_secs, 2);
}

#[test]
fn sms_routes_and_providers_are_checked() {
    let mut env = base();
    env.insert("SMS_ROUTES".into(), "256=dmark, +254=DMark".into());
    env.insert("SMS_FALLBACK_PROVIDER".into(), "twilio".into());
    let c = Config::from_map(&env).unwrap();
    assert_eq!(
        c.sms.routes,
        vec![(256, "dmark".to_string()), (254, "dmark".to_string())]
    );
    assert_eq!(c.sms.fallback_provider.as_deref(), Some("twilio"));
    assert_eq!(c.sms.dmark.token_fallback_secs, 3000);
    env.insert("SMS_ROUTES".into(), "256=pigeon".into());
    assert!(Config::from_map(&env)
        .unwrap_err()
        .to_string()
        .contains("pigeon"));
    env.insert("SMS_ROUTES".into(), "UG=dmark".into());
    assert!(Config::from_map(&env).is_err());
    env.remove("SMS_ROUTES");
    env.insert("SMS_PROVIDER".into(), "carrier-pigeon".into());
    assert!(Config::from_map(&env).is_err());
}

#[test]
fn sms_defaults_and_rates() {
    let c = Config::from_map(&base()).unwrap();
    assert_eq!(c.sms.provider, "console");
    assert!(c.sms.allowed_regions.contains(&"UG".to_string()));
    assert!(c.sms.rates.contains(&("US".to_string(), 8300)));
    let mut env = base();
    env.insert("SMS_RATES_MICROS".into(), "UG=1,bad".into());
    assert!(Config::from_map(&env).is_err());
}

#[test]
fn bad_number_rejected() {
    let mut env = base();
    env.insert("ONLINE_SHARDS".into(), "many".into());
    assert!(Config::from_map(&env).is_err());
}

#[test]
fn texts_settings() {
    let c = Config::from_map(&base()).unwrap();
    assert_eq!(c.texts.web_base_url, "http://localhost:8080");
    assert!(c.texts.only_offline);
    let mut env = base();
    env.insert("WEB_BASE_URL".into(), "https://play.example.com/".into());
    env.insert("BATTLE_TEXTS_ONLY_OFFLINE".into(), "false".into());
    let c = Config::from_map(&env).unwrap();
    assert_eq!(c.texts.web_base_url, "https://play.example.com");
    assert!(!c.texts.only_offline);
    env.insert("WEB_BASE_URL".into(), "play.example.com".into());
    assert!(Config::from_map(&env).is_err());
    env.remove("WEB_BASE_URL");
    env.insert("BATTLE_TEXTS_ONLY_OFFLINE".into(), "maybe".into());
    assert!(Config::from_map(&env).is_err());
}

// F-SMS-24: the streak-alert window is local hours outside quiet hours.
#[test]
fn the_streak_alert_window_stays_out_of_quiet_hours() {
    let window = |raw: &str| {
        let mut env = base();
        env.insert("STREAK_ALERT_WINDOW".into(), raw.into());
        Config::from_map(&env).map(|c| c.texts.streak_alert_window)
    };
    assert_eq!(
        Config::from_map(&base()).unwrap().texts.streak_alert_window,
        crate::points::rules::EveningWindow::default()
    );
    let w = window(" 18-21 ").unwrap();
    assert_eq!((w.start_hour, w.end_hour), (18, 21));
    for bad in ["20-19", "19-19", "7-9", "19-22", "19", "a-b", "19-20-21"] {
        assert!(window(bad).is_err(), "{bad}");
    }
}
