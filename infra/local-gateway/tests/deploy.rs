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
    let mut template = local_gateway::template::Template::parse(
        &text,
        "t_",
        &local_gateway::local_parameters(&Default::default()),
    )
    .unwrap();
    for q in template.queues() {
        template.set_queue(&q.logical_id, "http://queue".into(), "arn:queue".into());
    }
    for secret in template.secrets() {
        template.set_secret(&secret.logical_id, "arn:secret".into());
    }
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
