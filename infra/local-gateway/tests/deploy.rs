//! What a deployment holds: secrets live in Secrets Manager (moto here) and
//! are read by the functions at init; no function environment in the
//! template carries a secret value, and no parameter asks for one.

mod common;

use common::Stack;

#[tokio::test]
async fn secrets_are_read_from_secrets_manager_at_init() {
    let stack = Stack::start_with(&[("DmarkDlrSecret", "dlr-from-secrets-manager")]).await;
    let config = stack.config("webhooks");
    // The environment names the secret and holds no value.
    assert!(config.sms.dmark.dlr_secret.is_none());
    let arn = config
        .sms_secrets_arn
        .clone()
        .expect("SMS_SECRETS_ARN is set");
    let secrets = aws_sdk_secretsmanager::Client::new(&versus::db::aws_config().await);
    let stored = secrets
        .get_secret_value()
        .secret_id(&arn)
        .send()
        .await
        .unwrap();
    assert!(stored
        .secret_string()
        .unwrap()
        .contains("\"DmarkDlrSecret\":\"dlr-from-secrets-manager\""));
    // The function read it when it started: the delivery-report webhook takes it.
    let dlr = |secret: &str| format!("/v1/webhooks/dmark/dlr?ref=none&status=1&secret={secret}");
    assert_eq!(
        stack
            .call("GET", &dlr("dlr-from-secrets-manager"), None, None)
            .await
            .0,
        200
    );
    assert_eq!(stack.call("GET", &dlr("wrong"), None, None).await.0, 403);
    // A secret it cannot read stops the function at init, saying which.
    let mut unreadable = config.clone();
    unreadable.sms_secrets_arn =
        Some("arn:aws:secretsmanager:us-east-1:123456789012:secret:missing-AbCdEf".into());
    let error = webhooks::function(&unreadable)
        .await
        .err()
        .expect("no start");
    assert!(error.to_string().contains("SMS_SECRETS_ARN"), "{error}");
}

#[test]
fn no_function_environment_holds_a_secret() {
    let text = std::fs::read_to_string(common::repo_root().join("template.yaml")).unwrap();
    let template = common::offline_template();
    let looks_secret = |name: &str| {
        ["TOKEN", "PASSWORD", "SECRET", "KEY"]
            .iter()
            .any(|w| name.contains(w))
    };
    for function in template.functions().unwrap() {
        for name in function.environment.keys() {
            assert!(
                !looks_secret(name) || name.ends_with("_ARN"),
                "{}: {name} in the environment",
                function.logical_id
            );
        }
    }
    assert!(!text.contains("NoEcho"), "a parameter asks for a secret");
}

/// A request as `sam local start-api` delivers it: the shape of `sam local
/// generate-event apigateway http-api-proxy`, no authorizer claims (SAM CLI
/// runs no JWT authorizer), the bearer token in its header.
fn sam_local_event(token: &str) -> serde_json::Value {
    let path = common::repo_root().join("events/profile-api/sam-local-get-me.json");
    let mut event: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    event["headers"]["authorization"] = format!("Bearer {token}").into();
    event
}

#[tokio::test]
async fn under_sam_local_the_functions_verify_the_token_themselves() {
    let stack = Stack::start().await;
    stack.create_profile("sam-user", "sam_user").await;
    let mut config = stack.config("profile-api");
    let status = |r: &serde_json::Value| r["statusCode"].as_i64().unwrap();
    // Deployed (claims come from the authorizer): a bare token is not enough.
    let deployed = profile_api::function(&config).await.unwrap();
    let r = deployed(sam_local_event(&stack.token("sam-user")), common::ctx())
        .await
        .unwrap();
    assert_eq!(status(&r), 401, "{r}");
    // Under sam local: verified by the authorizer's rules.
    config.sam_local = true;
    let local = profile_api::function(&config).await.unwrap();
    let r = local(sam_local_event(&stack.token("sam-user")), common::ctx())
        .await
        .unwrap();
    assert_eq!(status(&r), 200, "{r}");
    let body: serde_json::Value = serde_json::from_str(r["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["username"], "sam_user");
    let expired = stack.token_with(
        "sam-user",
        serde_json::json!({"exp": chrono::Utc::now().timestamp() - 600}),
    );
    let wrong_key = versus::auth::mint_dev_token(
        "not-the-secret",
        &serde_json::json!({"sub": "sam-user", "iss": "versus-local", "aud": "versus", "exp": 4102444800u64}),
    );
    let other_audience = stack.token_with("sam-user", serde_json::json!({"aud": "someone-else"}));
    for (what, token) in [
        ("expired", expired),
        ("wrong key", wrong_key),
        ("other audience", other_audience),
        ("none", String::new()),
    ] {
        let r = local(sam_local_event(&token), common::ctx()).await.unwrap();
        assert_eq!(status(&r), 401, "{what}: {r}");
    }
}
