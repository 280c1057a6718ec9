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
    // The local IAM refused it first, as AWS would: the function's policy
    // names the stack's own secret only.
    let denials = std::mem::take(&mut *stack.running.iam_denials.lock().unwrap());
    let refused: Vec<&str> = denials.iter().map(|d| d.action.as_str()).collect();
    assert_eq!(refused, ["secretsmanager:GetSecretValue"]);
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

// What the template's policies allow is what the functions may do here too:
// each function's DynamoDB, SQS, SNS and Secrets Manager clients go through
// the local IAM under its own name; a call its policy allows passes, one it does not is refused as AWS
// refuses it (AccessDeniedException naming the action and the resource) and
// writes nothing. (Every other test's stack fails if a call was refused.)
#[tokio::test]
async fn each_function_reaches_dynamodb_only_as_its_policy_allows() {
    use aws_sdk_dynamodb::error::ProvideErrorMetadata;
    use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
    let stack = Stack::start().await;
    let profile = stack.config("profile-api");
    assert!(profile
        .aws_endpoints
        .of("DynamoDB")
        .is_some_and(|e| e.ends_with("/profile-api/dynamodb")));
    let profile_sdk = profile.aws_sdk().await;
    let as_profile_api = versus::db::dynamodb(&profile_sdk);
    let key = versus::keys::users::profile_key("iam_probe");
    as_profile_api
        .get_item()
        .table_name(&profile.tables.users)
        .set_key(Some(key.clone()))
        .send()
        .await
        .expect("profile-api reads the users table");
    let refused = as_profile_api
        .delete_item()
        .table_name(&profile.tables.battles)
        .set_key(Some(key.clone()))
        .send()
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Some("AccessDeniedException"));
    let message = refused.message().unwrap_or_default();
    assert!(
        message.contains("dynamodb:DeleteItem")
            && message.contains(&format!("table/{}", profile.tables.battles)),
        "{message}"
    );
    // A transaction is refused whole when one part is not allowed.
    let put = |table: &str| {
        let mut item = key.clone();
        item.insert("probe".into(), AttributeValue::Bool(true));
        TransactWriteItem::builder()
            .put(
                Put::builder()
                    .table_name(table)
                    .set_item(Some(item))
                    .build()
                    .unwrap(),
            )
            .build()
    };
    let refused = as_profile_api
        .transact_write_items()
        .transact_items(put(&profile.tables.users))
        .transact_items(put(&profile.tables.battles))
        .send()
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Some("AccessDeniedException"));
    let written = stack
        .dynamodb()
        .await
        .get_item()
        .table_name(&profile.tables.users)
        .set_key(Some(key.clone()))
        .send()
        .await
        .unwrap();
    assert!(written.item.is_none(), "nothing written");
    // ws-matchmaking reads the queue with PartiQL on the battles table only.
    let matchmaking = stack.config("ws-matchmaking");
    let as_matchmaking = versus::db::dynamodb(&matchmaking.aws_sdk().await);
    let select = |table: &str| format!(r#"SELECT * FROM "{table}" WHERE pk IN ['QUEUE#probe']"#);
    as_matchmaking
        .execute_statement()
        .statement(select(&matchmaking.tables.battles))
        .consistent_read(true)
        .send()
        .await
        .expect("ws-matchmaking may PartiQLSelect the battles table");
    let refused = as_matchmaking
        .execute_statement()
        .statement(select(&matchmaking.tables.users))
        .send()
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Some("AccessDeniedException"));
    // SQS too: profile-api may send to the SMS queue only.
    let sqs = aws_sdk_sqs::Client::new(&profile_sdk);
    let texts_queue = profile.sms.queue_url.clone().expect("SMS_QUEUE_URL");
    let timeouts_queue = stack
        .config("ws-matchmaking")
        .invitation_timeouts_queue_url
        .expect("INVITATION_TIMEOUTS_QUEUE_URL");
    let refused = sqs
        .send_message()
        .queue_url(&timeouts_queue)
        .message_body("{}")
        .send()
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Some("AccessDenied"), "{refused:?}");
    let receipt = sqs
        .receive_message()
        .queue_url(&texts_queue)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        receipt.code(),
        Some("AccessDenied"),
        "profile-api does not read its queue"
    );
    // Secrets Manager and SNS too: profile-api may read no secret and
    // publish no text itself (sms-sender does both).
    let secret = stack
        .config("sms-sender")
        .sms_secrets_arn
        .expect("SMS_SECRETS_ARN");
    let refused = aws_sdk_secretsmanager::Client::new(&profile_sdk)
        .get_secret_value()
        .secret_id(&secret)
        .send()
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Some("AccessDeniedException"), "{refused:?}");
    let refused = aws_sdk_sns::Client::new(&profile_sdk)
        .publish()
        .phone_number("+14155550100")
        .message("not from profile-api")
        .send()
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Some("AuthorizationError"), "{refused:?}");
    let denials = std::mem::take(&mut *stack.running.iam_denials.lock().unwrap());
    let refused: Vec<(&str, &str)> = denials
        .iter()
        .map(|d| (d.function.as_str(), d.action.as_str()))
        .collect();
    assert_eq!(
        refused,
        [
            ("profile-api", "dynamodb:DeleteItem"),
            ("profile-api", "dynamodb:PutItem"),
            ("ws-matchmaking", "dynamodb:PartiQLSelect"),
            ("profile-api", "sqs:SendMessage"),
            ("profile-api", "sqs:ReceiveMessage"),
            ("profile-api", "secretsmanager:GetSecretValue"),
            ("profile-api", "sns:Publish"),
        ]
    );
}
