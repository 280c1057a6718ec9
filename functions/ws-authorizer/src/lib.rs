//! ws-authorizer: the Lambda REQUEST authorizer of the WebSocket `$connect`
//! route (F-ID-1). It verifies the JWT from `?token=`; the caller's claims go
//! on as the authorizer context, which API Gateway hands to every later route
//! of the connection. A bad or missing token is a Deny: the handshake fails.

use aws_lambda_events::apigw::{
    ApiGatewayCustomAuthorizerPolicy, ApiGatewayCustomAuthorizerRequestTypeRequest,
    ApiGatewayCustomAuthorizerResponse,
};
use aws_lambda_events::iam::{IamPolicyEffect, IamPolicyStatement};
use serde_json::Value;
use versus::auth::TokenVerifier;
use versus::lambda::{self, BoxError, Invoke};
use versus::{Config, Error};

pub async fn function(config: &Config) -> Result<Invoke, Error> {
    let verifier = TokenVerifier::new(config.jwt.clone());
    Ok(lambda::typed(
        move |event: ApiGatewayCustomAuthorizerRequestTypeRequest, _: lambda::Context| {
            let verifier = verifier.clone();
            async move { Ok::<_, BoxError>(authorize(&verifier, &event).await) }
        },
    ))
}

pub async fn authorize(
    verifier: &TokenVerifier,
    event: &ApiGatewayCustomAuthorizerRequestTypeRequest,
) -> ApiGatewayCustomAuthorizerResponse {
    let resource = event.method_arn.clone().unwrap_or_else(|| "*".into());
    let token = event.query_string_parameters.first("token").unwrap_or("");
    match verifier.verify(token).await {
        Ok(caller) => response(
            Some(caller.user_id.to_string()),
            IamPolicyEffect::Allow,
            resource,
            caller.to_context(),
        ),
        Err(e) => {
            tracing::info!(reason = %e, "websocket connection refused");
            response(
                None,
                IamPolicyEffect::Deny,
                resource,
                serde_json::Map::new(),
            )
        }
    }
}

fn response(
    principal: Option<String>,
    effect: IamPolicyEffect,
    resource: String,
    context: serde_json::Map<String, Value>,
) -> ApiGatewayCustomAuthorizerResponse {
    let mut statement = IamPolicyStatement::default();
    statement.action = vec!["execute-api:Invoke".into()];
    statement.effect = effect;
    statement.resource = vec![resource];
    let mut policy = ApiGatewayCustomAuthorizerPolicy::default();
    policy.version = Some("2012-10-17".into());
    policy.statement = vec![statement];
    let mut out = ApiGatewayCustomAuthorizerResponse::default();
    out.principal_id = Some(principal.unwrap_or_else(|| "anonymous".into()));
    out.policy_document = policy;
    out.context = Value::Object(context);
    out
}

/// Whether a response lets the connection through (the local gateway and tests read it the same way).
pub fn allows(response: &ApiGatewayCustomAuthorizerResponse) -> bool {
    !response.policy_document.statement.is_empty()
        && response
            .policy_document
            .statement
            .iter()
            .all(|s| s.effect == IamPolicyEffect::Allow)
}
