//! IAM as the local stack plays it, for DynamoDB, SQS, SNS and Secrets
//! Manager: every function's calls to them go through a proxy that checks
//! them against the `Policies` statements template.yaml gives that function,
//! and refuses a call no statement allows the way AWS does
//! (`AccessDeniedException`; SNS: `AuthorizationError`). So a missing
//! permission fails a test here, not the first request after a deployment.
//!
//! Each function reaches the proxy under its own path
//! (`AWS_ENDPOINT_URL_DYNAMODB=http://<proxy>/<function>/dynamodb`, and
//! `.../sqs`, `.../sns`, `.../secretsmanager`, in its environment): the
//! path is the caller's role. What a call needs follows AWS's rules: an
//! index's reads need the index's ARN; a transaction's parts need their own
//! actions (`PutItem`, `UpdateItem`, `DeleteItem`, `ConditionCheckItem`,
//! `GetItem`); a PartiQL statement needs `PartiQLSelect`/`Insert`/`Update`/
//! `Delete` on the table or index it names; an SQS batch call needs its
//! single action (`SendMessage` for `SendMessageBatch`) on the queue; an SNS
//! publish to a phone number names no resource (`*`). Only `Allow`
//! statements with `Action` and `Resource` or `NotResource` are read (the
//! template has no other kind); conditions are not evaluated.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// One `Allow` statement: its actions and resources, IAM wildcards kept.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Statement {
    pub actions: Vec<String>,
    pub resources: Vec<String>,
    pub not_resources: Vec<String>,
}

/// A function's identity-based policy: the union of its statements.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Policy {
    pub statements: Vec<Statement>,
}

impl Policy {
    /// Whether some statement allows `action` on `resource` (an ARN).
    pub fn allows(&self, action: &str, resource: &str) -> bool {
        self.statements.iter().any(|s| {
            s.actions
                .iter()
                .any(|a| wildcard(&a.to_lowercase(), &action.to_lowercase()))
                && if s.not_resources.is_empty() {
                    s.resources.iter().any(|r| wildcard(r, resource))
                } else {
                    !s.not_resources.iter().any(|r| wildcard(r, resource))
                }
        })
    }
}

/// IAM's matching: `*` any run of characters, `?` any one.
fn wildcard(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    // The classic two-pointer match with backtracking to the last `*`.
    let (mut i, mut j, mut star, mut mark) = (0, 0, None, 0);
    while j < t.len() {
        if i < p.len() && (p[i] == '?' || p[i] == t[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some(i);
            mark = j;
            i += 1;
        } else if let Some(s) = star {
            i = s + 1;
            mark += 1;
            j = mark;
        } else {
            return false;
        }
    }
    p[i..].iter().all(|c| *c == '*')
}

/// What a DynamoDB call needs: `(action, resource ARN)` pairs, each of
/// which some statement must allow. `table_arn` names a table's ARN.
pub fn needs(
    operation: &str,
    request: &Value,
    table_arn: &dyn Fn(&str) -> String,
) -> Vec<(String, String)> {
    let action = |a: &str| format!("dynamodb:{a}");
    let on = |table: &str, index: Option<&str>| match index {
        Some(index) => format!("{}/index/{index}", table_arn(table)),
        None => table_arn(table),
    };
    let table = request["TableName"].as_str().unwrap_or_default();
    match operation {
        "Query" | "Scan" => vec![(action(operation), on(table, request["IndexName"].as_str()))],
        "BatchGetItem" | "BatchWriteItem" => request["RequestItems"]
            .as_object()
            .into_iter()
            .flat_map(|tables| tables.keys())
            .map(|t| (action(operation), on(t, None)))
            .collect(),
        "TransactWriteItems" | "TransactGetItems" => request["TransactItems"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_object)
            .flat_map(|item| item.iter())
            .map(|(part, body)| {
                let item_action = match part.as_str() {
                    "Put" => "PutItem",
                    "Update" => "UpdateItem",
                    "Delete" => "DeleteItem",
                    "ConditionCheck" => "ConditionCheckItem",
                    "Get" => "GetItem",
                    other => other,
                };
                let table = body["TableName"].as_str().unwrap_or_default();
                (action(item_action), on(table, None))
            })
            .collect(),
        "ExecuteStatement" => statement_needs(request["Statement"].as_str().unwrap_or_default())
            .map(|(verb, table, index)| vec![(action(verb), on(&table, index.as_deref()))])
            .unwrap_or_else(|| vec![(action("PartiQLSelect"), on("", None))]),
        "BatchExecuteStatement" | "ExecuteTransaction" => {
            let list = if operation == "ExecuteTransaction" {
                "TransactStatements"
            } else {
                "Statements"
            };
            request[list]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|s| statement_needs(s["Statement"].as_str()?))
                .map(|(verb, table, index)| (action(verb), on(&table, index.as_deref())))
                .collect()
        }
        // Account-level calls name no table.
        "ListTables" | "DescribeLimits" | "DescribeEndpoints" => {
            vec![(action(operation), "*".into())]
        }
        _ => vec![(action(operation), on(table, None))],
    }
}

/// What an SQS call needs: its action (a batch call's single one) on the
/// queue its `QueueUrl` names; `queue_arn` maps a URL to the queue's ARN.
pub fn sqs_needs(
    operation: &str,
    request: &Value,
    queue_arn: &dyn Fn(&str) -> String,
) -> Vec<(String, String)> {
    let action = match operation {
        "SendMessageBatch" => "SendMessage",
        "DeleteMessageBatch" => "DeleteMessage",
        "ChangeMessageVisibilityBatch" => "ChangeMessageVisibility",
        other => other,
    };
    let queue = request["QueueUrl"]
        .as_str()
        .map(queue_arn)
        .unwrap_or_else(|| "*".into());
    vec![(format!("sqs:{action}"), queue)]
}

/// A PartiQL statement's action (by its verb) and the table and index it
/// names (`"table"` or `"table"."index"`).
fn statement_needs(statement: &str) -> Option<(&'static str, String, Option<String>)> {
    let verb = match statement.split_whitespace().next()?.to_uppercase().as_str() {
        "SELECT" => "PartiQLSelect",
        "INSERT" => "PartiQLInsert",
        "UPDATE" => "PartiQLUpdate",
        "DELETE" => "PartiQLDelete",
        _ => return None,
    };
    let mut quoted = statement.split('"');
    let table = quoted.nth(1)?.to_string();
    let index = match (quoted.next(), quoted.next()) {
        (Some("."), Some(index)) => Some(index.to_string()),
        _ => None,
    };
    Some((verb, table, index))
}

/// A call a policy refused: who, what, on what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Denial {
    pub function: String,
    pub action: String,
    pub resource: String,
}

pub type Denials = Arc<Mutex<Vec<Denial>>>;

/// The services the proxy checks: the last segment of a function's
/// endpoint, and the variable that names it (and the upstream).
pub const CHECKED: [(&str, &str); 4] = [
    ("dynamodb", "AWS_ENDPOINT_URL_DYNAMODB"),
    ("sqs", "AWS_ENDPOINT_URL_SQS"),
    ("sns", "AWS_ENDPOINT_URL_SNS"),
    ("secretsmanager", "AWS_ENDPOINT_URL_SECRETS_MANAGER"),
];

/// What the proxy knows of the stack: the policies by function name, the
/// upstream of each checked service, and how to name a table's or a queue's ARN.
pub struct Stack {
    pub policies: BTreeMap<String, Policy>,
    pub upstreams: BTreeMap<String, String>,
    pub table_arn_prefix: String,
    /// A queue's ARN by its name (a queue URL's last segment).
    pub queue_arns: BTreeMap<String, String>,
}

struct Guard {
    stack: Stack,
    http: reqwest::Client,
    denials: Denials,
}

/// The proxy (a function's endpoint for a service is
/// `<proxy>/<function>/<service>`), and the denials it will record.
pub fn router(stack: Stack) -> (axum::Router, Denials) {
    let denials = Denials::default();
    let guard = Arc::new(Guard {
        stack,
        http: reqwest::Client::new(),
        denials: denials.clone(),
    });
    let router = axum::Router::new()
        .route("/{function}/{service}", axum::routing::post(check))
        .route("/{function}/{service}/", axum::routing::post(check))
        .with_state(guard);
    (router, denials)
}

fn json_error(status: StatusCode, kind: &str, query_code: &str, message: &str) -> Response {
    let body = serde_json::json!({ "__type": kind, "message": message });
    let headers = [
        ("content-type", "application/x-amz-json-1.0".to_string()),
        // SQS's JSON protocol names the error's query-protocol code here.
        ("x-amzn-query-error", format!("{query_code};Sender")),
    ];
    (status, headers, body.to_string()).into_response()
}

/// Checks one call against its caller's policy, then relays it.
async fn check(
    State(guard): State<Arc<Guard>>,
    Path((function, service)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let stack = &guard.stack;
    let (Some(policy), Some(upstream)) =
        (stack.policies.get(&function), stack.upstreams.get(&service))
    else {
        return json_error(
            StatusCode::BAD_REQUEST,
            "com.amazon.coral.service#UnrecognizedClientException",
            "UnrecognizedClient",
            &format!("no function {function} with a {service} endpoint here"),
        );
    };
    let needed = requirements(stack, &service, &headers, &body);
    for (action, resource) in needed {
        if !policy.allows(&action, &resource) {
            // Loud on purpose: the test that hit it fails further on.
            tracing::error!(%function, %action, %resource, "IAM: not allowed by the function's policy in template.yaml");
            guard.denials.lock().unwrap().push(Denial {
                function: function.clone(),
                action: action.clone(),
                resource: resource.clone(),
            });
            let message = format!(
                "User: arn:aws:sts::{}:assumed-role/{function}-role/{function} is not authorized to perform: {action} on resource: {resource} because no identity-based policy allows the {action} action",
                crate::template::ACCOUNT_ID
            );
            return denied(&service, &message);
        }
    }
    relay(&guard.http, upstream, headers, body).await
}

/// What a call to `service` needs, read from its request: the JSON
/// protocols name the operation in `X-Amz-Target`, SNS's query protocol in
/// its form's `Action`.
fn requirements(
    stack: &Stack,
    service: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Vec<(String, String)> {
    if service == "sns" {
        let form: BTreeMap<String, String> = form_urlencoded::parse(body).into_owned().collect();
        let action = form.get("Action").cloned().unwrap_or_default();
        // A publish to a phone number names no resource.
        let resource = form
            .get("TopicArn")
            .or_else(|| form.get("TargetArn"))
            .cloned()
            .unwrap_or_else(|| "*".into());
        return vec![(format!("sns:{action}"), resource)];
    }
    let operation = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.rsplit('.').next())
        .unwrap_or_default();
    let request: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    match service {
        "sqs" => {
            let queue_arn = |url: &str| {
                let name = url
                    .trim_end_matches('/')
                    .rsplit('/')
                    .next()
                    .unwrap_or_default();
                stack
                    .queue_arns
                    .get(name)
                    .cloned()
                    .unwrap_or_else(|| format!("unknown queue {url}"))
            };
            sqs_needs(operation, &request, &queue_arn)
        }
        "secretsmanager" => {
            let secret = request["SecretId"].as_str().unwrap_or("*");
            vec![(format!("secretsmanager:{operation}"), secret.to_string())]
        }
        _ => {
            let table_arn = |table: &str| format!("{}{table}", stack.table_arn_prefix);
            needs(operation, &request, &table_arn)
        }
    }
}

/// A refusal in the service's own form: SNS answers 403 `AuthorizationError`
/// in XML, the JSON protocols 400 `AccessDeniedException`.
fn denied(service: &str, message: &str) -> Response {
    if service == "sns" {
        let body = format!(
            "<ErrorResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\"><Error><Type>Sender</Type><Code>AuthorizationError</Code><Message>{message}</Message></Error><RequestId>local</RequestId></ErrorResponse>"
        );
        return (StatusCode::FORBIDDEN, [("content-type", "text/xml")], body).into_response();
    }
    json_error(
        StatusCode::BAD_REQUEST,
        "com.amazon.coral.service#AccessDeniedException",
        "AccessDenied",
        message,
    )
}

async fn relay(
    http: &reqwest::Client,
    upstream: &str,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let url = format!("{}/", upstream.trim_end_matches('/'));
    match crate::relay::relay(http, axum::http::Method::POST, &url, &headers, body).await {
        Ok(answer) => answer.into_response(),
        // The service's stand-in is down (a fault test stopped it): an
        // internal error, which the SDK retries and then reports.
        Err(e) => {
            let message = format!("the local service did not answer: {e}");
            let body = serde_json::json!({ "__type": "com.amazon.coral.service#InternalFailure", "message": message });
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                [("content-type", "application/x-amz-json-1.0")],
                body.to_string(),
            )
                .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn arn(table: &str) -> String {
        format!("arn:aws:dynamodb:us-east-1:123456789012:table/{table}")
    }

    fn policy() -> Policy {
        Policy {
            statements: vec![
                Statement {
                    actions: vec![
                        "dynamodb:GetItem".into(),
                        "dynamodb:Query".into(),
                        "dynamodb:PutItem".into(),
                    ],
                    resources: vec![arn("users"), format!("{}/index/leaderboard", arn("users"))],
                    ..Statement::default()
                },
                Statement {
                    actions: vec!["dynamodb:PartiQLSelect".into(), "dynamodb:Update*".into()],
                    resources: vec![arn("battles"), format!("{}/index/*", arn("battles"))],
                    ..Statement::default()
                },
                Statement {
                    actions: vec!["sns:Publish".into()],
                    not_resources: vec!["arn:aws:sns:*:*:*".into()],
                    ..Statement::default()
                },
            ],
        }
    }

    fn allowed(operation: &str, request: Value) -> bool {
        let p = policy();
        needs(operation, &request, &arn)
            .iter()
            .all(|(a, r)| p.allows(a, r))
    }

    #[test]
    fn wildcards_match_as_iam_does() {
        assert!(wildcard("dynamodb:*", "dynamodb:GetItem"));
        assert!(wildcard(
            "arn:aws:sns:*:*:*",
            "arn:aws:sns:us-east-1:1:topic"
        ));
        assert!(wildcard("a?c", "abc"));
        assert!(!wildcard("a?c", "ac"));
        assert!(!wildcard("arn:x/index/*", "arn:x"));
        assert!(wildcard("*", ""));
    }

    #[test]
    fn a_table_grant_does_not_cover_its_indexes() {
        assert!(allowed("Query", json!({"TableName": "users"})));
        assert!(allowed(
            "Query",
            json!({"TableName": "users", "IndexName": "leaderboard"})
        ));
        assert!(!allowed(
            "Query",
            json!({"TableName": "users", "IndexName": "active_by_date"})
        ));
        assert!(allowed("UpdateItem", json!({"TableName": "battles"})));
        assert!(!allowed("DeleteItem", json!({"TableName": "users"})));
        assert!(!allowed("GetItem", json!({"TableName": "sms"})));
    }

    #[test]
    fn a_transactions_parts_need_their_own_actions() {
        let put_and_update = json!({"TransactItems": [
            {"Put": {"TableName": "users"}},
            {"Update": {"TableName": "battles"}},
        ]});
        assert!(allowed("TransactWriteItems", put_and_update));
        let with_check = json!({"TransactItems": [
            {"Put": {"TableName": "users"}},
            {"ConditionCheck": {"TableName": "users"}},
        ]});
        assert!(!allowed("TransactWriteItems", with_check));
        assert!(!allowed(
            "BatchGetItem",
            json!({"RequestItems": {"users": {}}})
        ));
    }

    #[test]
    fn partiql_needs_its_verbs_action_on_what_it_names() {
        let select = |s: &str| json!({ "Statement": s });
        assert!(allowed(
            "ExecuteStatement",
            select(r#"SELECT * FROM "battles" WHERE pk IN ['a', 'b']"#)
        ));
        assert!(allowed(
            "ExecuteStatement",
            select(r#"SELECT * FROM "battles"."gsi1" WHERE gsi1pk = 'x'"#)
        ));
        assert!(!allowed(
            "ExecuteStatement",
            select(r#"SELECT * FROM "users" WHERE pk = 'a'"#)
        ));
        assert!(!allowed(
            "ExecuteStatement",
            select(r#"DELETE FROM "battles" WHERE pk = 'a'"#)
        ));
        assert!(!allowed("ExecuteStatement", select("not partiql")));
    }

    #[test]
    fn an_sqs_batch_needs_its_single_action_on_the_queue() {
        let queue = |url: &str| {
            format!(
                "arn:aws:sqs:us-east-1:1:{}",
                url.rsplit('/').next().unwrap()
            )
        };
        let p = Policy {
            statements: vec![Statement {
                actions: vec!["sqs:SendMessage".into()],
                resources: vec!["arn:aws:sqs:us-east-1:1:texts".into()],
                ..Statement::default()
            }],
        };
        let allowed = |operation: &str, url: &str| {
            sqs_needs(operation, &json!({ "QueueUrl": url }), &queue)
                .iter()
                .all(|(a, r)| p.allows(a, r))
        };
        assert!(allowed("SendMessage", "http://moto/1/texts"));
        assert!(allowed("SendMessageBatch", "http://moto/1/texts"));
        assert!(!allowed("SendMessage", "http://moto/1/timeouts"));
        assert!(!allowed("ChangeMessageVisibility", "http://moto/1/texts"));
    }

    #[test]
    fn an_sns_publish_to_a_number_names_no_resource() {
        let stack = Stack {
            policies: BTreeMap::new(),
            upstreams: BTreeMap::new(),
            table_arn_prefix: String::new(),
            queue_arns: BTreeMap::new(),
        };
        let form = |body: &str| requirements(&stack, "sns", &HeaderMap::new(), body.as_bytes());
        assert_eq!(
            form("Action=Publish&PhoneNumber=%2B14155550100&Message=hi"),
            [("sns:Publish".to_string(), "*".to_string())]
        );
        let topic = "arn:aws:sns:us-east-1:1:events";
        let to_topic = form(&format!("Action=Publish&TopicArn={topic}&Message=hi"));
        assert_eq!(to_topic, [("sns:Publish".to_string(), topic.to_string())]);
        // The template's statement: numbers yes, topics no.
        let p = policy();
        assert!(p.allows("sns:Publish", "*"));
        assert!(!p.allows(&to_topic[0].0, &to_topic[0].1));
    }

    #[test]
    fn not_resource_allows_everything_else() {
        let p = policy();
        assert!(p.allows("sns:Publish", "+256772123456"));
        assert!(!p.allows("sns:Publish", "arn:aws:sns:us-east-1:1:topic"));
    }
}
