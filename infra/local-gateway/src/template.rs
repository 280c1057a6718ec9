//! Reads `template.yaml` into what the local gateway plays: functions with
//! their environment and HTTP routes, tables, and the WebSocket routes. The
//! CloudFormation intrinsics the template uses (Ref, GetAtt, Sub) are resolved
//! against local values, so the deployed and the local stack never drift.

use serde_norway::value::TaggedValue;
use serde_norway::{Mapping, Value};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

pub type Result<T> = std::result::Result<T, String>;

/// A resource's local identity: what `!Ref` resolves to.
pub const LOCAL_WEBSOCKET_API_ID: &str = "localws";
pub const LOCAL_HTTP_API_ID: &str = "localhttp";
pub const REGION_FALLBACK: &str = "us-east-1";
pub const ACCOUNT_ID: &str = "000000000000";

#[derive(Clone, Debug)]
pub struct Template {
    root: Mapping,
    parameters: HashMap<String, String>,
    table_prefix: String,
    region: String,
    /// Queues as created locally: logical id → (URL, ARN), which `!Ref` and
    /// `!GetAtt .Arn` resolve to once [`Template::set_queues`] has run.
    queues: HashMap<String, (String, String)>,
    /// Secrets' values (JSON objects): the template's `SecretString`, with the
    /// overrides that name one of its keys; logical id → value.
    secret_values: BTreeMap<String, serde_json::Map<String, serde_json::Value>>,
    /// Secrets as created locally: logical id → ARN, what `!Ref` gives.
    secret_arns: HashMap<String, String>,
}

/// A Secrets Manager secret of the template, with its local value.
#[derive(Clone, Debug)]
pub struct SecretDef {
    pub logical_id: String,
    pub name: String,
    pub value: String,
}

#[derive(Clone, Debug)]
pub struct QueueDef {
    pub logical_id: String,
    pub name: String,
    pub properties: Mapping,
}

/// An EventBridge schedule of a function (`Events: {Type: Schedule}`).
#[derive(Clone, Debug)]
pub struct ScheduleDef {
    /// The event's name in the template (what `POST /_local/schedules/{name}` takes).
    pub name: String,
    pub function: String,
    /// `cron(...)` or `rate(...)`, as EventBridge takes it.
    pub expression: String,
    /// The constant input, or `None` for EventBridge's scheduled-event shape.
    pub input: Option<String>,
}

/// An SQS event source mapping of a function (`Events: {Type: SQS}`).
#[derive(Clone, Debug)]
pub struct SqsSource {
    pub function: String,
    pub queue: String,
    pub batch_size: i32,
    pub report_batch_item_failures: bool,
}

/// An EventBridge rule of a function (`Events: {Type: EventBridgeRule}`).
#[derive(Clone, Debug)]
pub struct EventRule {
    /// The event's name in the template.
    pub name: String,
    pub function: String,
    /// The bus's name (`default` when the event names none).
    pub bus: String,
    /// The event pattern, as JSON.
    pub pattern: serde_json::Value,
}

/// How Lambda handles a function's asynchronous invocations (`EventInvokeConfig`).
#[derive(Clone, Debug)]
pub struct AsyncConfig {
    /// Retries after a failed invocation (Lambda's default: 2).
    pub maximum_retry_attempts: u32,
    /// The queue (logical id) that gets the record of an event whose
    /// retries are spent.
    pub on_failure_queue: Option<String>,
}

#[derive(Clone, Debug)]
pub struct FunctionDef {
    pub logical_id: String,
    /// The crate folder's name (`functions/<name>`), which names the handler.
    pub name: String,
    pub environment: BTreeMap<String, String>,
    /// The function's `Timeout` (or the Globals' one), which the gateway
    /// enforces as Lambda does: past it, the invocation is stopped and fails.
    pub timeout_secs: u64,
    pub http_routes: Vec<HttpRoute>,
    pub sqs_sources: Vec<SqsSource>,
    pub schedules: Vec<ScheduleDef>,
    pub event_rules: Vec<EventRule>,
    pub async_config: AsyncConfig,
}

#[derive(Clone, Debug)]
pub struct HttpRoute {
    pub method: String,
    pub path: String,
    pub public: bool,
    pub function: String,
}

#[derive(Clone, Debug)]
pub struct TableDef {
    pub logical_id: String,
    pub name: String,
    pub properties: Mapping,
}

#[derive(Clone, Debug)]
pub struct WsRoute {
    pub route_key: String,
    pub function: String,
    /// A route response exists: the integration's body goes back to the client.
    pub two_way: bool,
    /// The authorizer function of `$connect`, if any.
    pub authorizer: Option<String>,
}

impl Template {
    pub fn load(
        path: &Path,
        table_prefix: &str,
        overrides: &HashMap<String, String>,
    ) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("reading {}: {e}", path.display()))?;
        Self::parse(&text, table_prefix, overrides)
    }

    pub fn parse(
        text: &str,
        table_prefix: &str,
        overrides: &HashMap<String, String>,
    ) -> Result<Self> {
        let root: Mapping =
            serde_norway::from_str(text).map_err(|e| format!("template.yaml: {e}"))?;
        let mut parameters = HashMap::new();
        let mut declared = Vec::new();
        if let Some(Value::Mapping(params)) = root.get("Parameters") {
            for (name, def) in params {
                let name = name.as_str().unwrap_or_default().to_string();
                let default = def.get("Default").map(scalar_string);
                if let Some(v) = overrides.get(&name).cloned().or(default) {
                    parameters.insert(name.clone(), v);
                }
                declared.push(name);
            }
        }
        // Locally a secret's value comes with the parameters: an override
        // named like a key of a secret's JSON `SecretString` sets that key.
        let mut secret_values = BTreeMap::new();
        if let Some(Value::Mapping(resources)) = root.get("Resources") {
            for (id, r) in resources {
                if r.get("Type").and_then(Value::as_str) != Some("AWS::SecretsManager::Secret") {
                    continue;
                }
                let text = r
                    .get("Properties")
                    .and_then(|p| p.get("SecretString"))
                    .and_then(Value::as_str)
                    .unwrap_or("{}");
                let mut value: serde_json::Map<String, serde_json::Value> =
                    serde_json::from_str(text)
                        .map_err(|e| format!("{id:?}: SecretString is not a JSON object: {e}"))?;
                for (key, v) in value.iter_mut() {
                    if let Some(given) = overrides.get(key) {
                        *v = serde_json::Value::String(given.clone());
                        declared.push(key.clone());
                    }
                }
                secret_values.insert(id.as_str().unwrap_or_default().to_string(), value);
            }
        }
        // As CloudFormation does: a value for a parameter the template does
        // not declare is an error, not something silently ignored.
        let mut unknown: Vec<&String> =
            overrides.keys().filter(|k| !declared.contains(k)).collect();
        unknown.sort();
        if !unknown.is_empty() {
            return Err(format!(
                "template.yaml declares no parameter {unknown:?} (see its Parameters section; secrets take the keys of their SecretString)"
            ));
        }
        let region = std::env::var("AWS_REGION").unwrap_or_else(|_| REGION_FALLBACK.into());
        Ok(Template {
            root,
            parameters,
            table_prefix: table_prefix.to_string(),
            region,
            queues: HashMap::new(),
            secret_values,
            secret_arns: HashMap::new(),
        })
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    /// A parameter's value (override, else the template default).
    pub fn parameter(&self, name: &str) -> Option<String> {
        self.parameters.get(name).cloned()
    }

    fn resources(&self) -> impl Iterator<Item = (&str, &str, &Value)> {
        self.root
            .get("Resources")
            .and_then(Value::as_mapping)
            .into_iter()
            .flat_map(|m| m.iter())
            .filter_map(|(id, r)| Some((id.as_str()?, r.get("Type")?.as_str()?, r)))
    }

    fn resource_type(&self, logical_id: &str) -> Option<&str> {
        self.resources()
            .find(|(id, _, _)| *id == logical_id)
            .map(|(_, t, _)| t)
    }

    /// The prefix of a table's ARN here (the table's name follows).
    pub fn table_arn_prefix(&self) -> String {
        format!("arn:aws:dynamodb:{}:{ACCOUNT_ID}:table/", self.region)
    }

    /// Each function's `Policies` (inline statements), by function name, with
    /// their resources resolved to ARNs: what the local IAM checks (`crate::iam`).
    /// Call it once the queues and secrets exist (their ARNs are named).
    pub fn policies(&self) -> Result<BTreeMap<String, crate::iam::Policy>> {
        let mut out = BTreeMap::new();
        for def in self.functions()? {
            let policies = self
                .resource_props(&def.logical_id)
                .and_then(|p| p.get("Policies"))
                .and_then(Value::as_sequence)
                .cloned()
                .unwrap_or_default();
            let mut statements = Vec::new();
            for policy in &policies {
                let listed =
                    policy
                        .get("Statement")
                        .and_then(Value::as_sequence)
                        .ok_or(format!(
                            "{}: only inline policies (Statement:) are read locally",
                            def.logical_id
                        ))?;
                for statement in listed {
                    if statement.get("Effect").and_then(Value::as_str) != Some("Allow") {
                        return Err(format!(
                            "{}: only Allow statements are read locally",
                            def.logical_id
                        ));
                    }
                    let list = |name: &str| -> Result<Vec<String>> {
                        match statement.get(name) {
                            None => Ok(Vec::new()),
                            Some(Value::Sequence(items)) => {
                                items.iter().map(|v| self.resolve(v)).collect()
                            }
                            Some(one) => Ok(vec![self.resolve(one)?]),
                        }
                    };
                    statements.push(crate::iam::Statement {
                        actions: list("Action")?,
                        resources: list("Resource")?,
                        not_resources: list("NotResource")?,
                    });
                }
            }
            out.insert(def.name, crate::iam::Policy { statements });
        }
        Ok(out)
    }

    pub fn tables(&self) -> Vec<TableDef> {
        self.resources()
            .filter(|(_, t, _)| *t == "AWS::DynamoDB::Table")
            .map(|(id, _, r)| TableDef {
                logical_id: id.to_string(),
                name: self.table_name(id),
                properties: r
                    .get("Properties")
                    .and_then(Value::as_mapping)
                    .cloned()
                    .unwrap_or_default(),
            })
            .collect()
    }

    /// The queues, those that others send their dead letters to first.
    pub fn queues(&self) -> Vec<QueueDef> {
        let mut queues: Vec<QueueDef> = self
            .resources()
            .filter(|(_, t, _)| *t == "AWS::SQS::Queue")
            .map(|(id, _, r)| QueueDef {
                logical_id: id.to_string(),
                name: self.table_name(id),
                properties: r
                    .get("Properties")
                    .and_then(Value::as_mapping)
                    .cloned()
                    .unwrap_or_default(),
            })
            .collect();
        queues.sort_by_key(|q| q.properties.contains_key("RedrivePolicy"));
        queues
    }

    /// The secrets, with their local values.
    pub fn secrets(&self) -> Vec<SecretDef> {
        self.secret_values
            .iter()
            .map(|(id, value)| SecretDef {
                logical_id: id.clone(),
                name: self.table_name(id),
                value: serde_json::Value::Object(value.clone()).to_string(),
            })
            .collect()
    }

    pub fn set_secret(&mut self, logical_id: &str, arn: String) {
        self.secret_arns.insert(logical_id.to_string(), arn);
    }

    pub fn set_queue(&mut self, logical_id: &str, url: String, arn: String) {
        self.queues.insert(logical_id.to_string(), (url, arn));
    }

    /// A created queue's URL and ARN.
    pub fn queue(&self, logical_id: &str) -> Option<(String, String)> {
        self.queues.get(logical_id).cloned()
    }

    pub fn table_name(&self, logical_id: &str) -> String {
        format!("{}{}", self.table_prefix, logical_id)
    }

    pub fn functions(&self) -> Result<Vec<FunctionDef>> {
        let global_function = self.root.get("Globals").and_then(|g| g.get("Function"));
        let global_timeout = global_function
            .and_then(|f| f.get("Timeout"))
            .and_then(Value::as_u64);
        let globals = global_function
            .and_then(|f| f.get("Environment"))
            .and_then(|e| e.get("Variables"))
            .and_then(Value::as_mapping)
            .cloned()
            .unwrap_or_default();
        let mut out = Vec::new();
        for (id, kind, resource) in self.resources() {
            if kind != "AWS::Serverless::Function" {
                continue;
            }
            let props = resource
                .get("Properties")
                .ok_or(format!("{id}: no Properties"))?;
            let code_uri = props
                .get("CodeUri")
                .and_then(Value::as_str)
                .ok_or(format!("{id}: no CodeUri"))?;
            let name = code_uri
                .trim_end_matches('/')
                .rsplit('/')
                .next()
                .unwrap_or(code_uri)
                .to_string();
            let mut environment = BTreeMap::new();
            let own = props
                .get("Environment")
                .and_then(|e| e.get("Variables"))
                .and_then(Value::as_mapping)
                .cloned()
                .unwrap_or_default();
            for (k, v) in globals.iter().chain(own.iter()) {
                let key = k
                    .as_str()
                    .ok_or(format!("{id}: bad variable name"))?
                    .to_string();
                environment.insert(
                    key.clone(),
                    self.resolve(v).map_err(|e| format!("{id}.{key}: {e}"))?,
                );
            }
            let mut http_routes = Vec::new();
            let mut sqs_sources = Vec::new();
            let mut schedules = Vec::new();
            let mut event_rules = Vec::new();
            if let Some(Value::Mapping(events)) = props.get("Events") {
                for (event_name, event) in events {
                    if event.get("Type").and_then(Value::as_str) == Some("EventBridgeRule") {
                        let p = event
                            .get("Properties")
                            .ok_or(format!("{id}: EventBridgeRule event without Properties"))?;
                        let pattern = p
                            .get("Pattern")
                            .ok_or(format!("{id}: EventBridgeRule event without a Pattern"))?;
                        event_rules.push(EventRule {
                            name: scalar_string(event_name),
                            function: id.to_string(),
                            bus: p
                                .get("EventBusName")
                                .map(|v| self.resolve(v))
                                .transpose()?
                                .unwrap_or_else(|| "default".into()),
                            pattern: serde_json::to_value(pattern)
                                .map_err(|e| format!("{id}: Pattern: {e}"))?,
                        });
                        continue;
                    }
                    if matches!(
                        event.get("Type").and_then(Value::as_str),
                        Some("Schedule" | "ScheduleV2")
                    ) {
                        let p = event
                            .get("Properties")
                            .ok_or(format!("{id}: Schedule event without Properties"))?;
                        let expression = p
                            .get("Schedule")
                            .or(p.get("ScheduleExpression"))
                            .map(|v| self.resolve(v))
                            .transpose()?
                            .ok_or(format!("{id}: Schedule event without an expression"))?;
                        schedules.push(ScheduleDef {
                            name: scalar_string(event_name),
                            function: id.to_string(),
                            expression,
                            input: p.get("Input").map(|v| self.resolve(v)).transpose()?,
                        });
                        continue;
                    }
                    if event.get("Type").and_then(Value::as_str) == Some("SQS") {
                        let p = event
                            .get("Properties")
                            .ok_or(format!("{id}: SQS event without Properties"))?;
                        let queue = p
                            .get("Queue")
                            .and_then(getatt_target)
                            .ok_or(format!("{id}: SQS event Queue must be !GetAtt <Queue>.Arn"))?;
                        sqs_sources.push(SqsSource {
                            function: id.to_string(),
                            queue,
                            batch_size: p
                                .get("BatchSize")
                                .and_then(Value::as_i64)
                                .unwrap_or(10)
                                .clamp(1, 10) as i32,
                            report_batch_item_failures: p
                                .get("FunctionResponseTypes")
                                .and_then(Value::as_sequence)
                                .is_some_and(|s| {
                                    s.iter()
                                        .any(|v| v.as_str() == Some("ReportBatchItemFailures"))
                                }),
                        });
                        continue;
                    }
                    if event.get("Type").and_then(Value::as_str) != Some("HttpApi") {
                        continue;
                    }
                    let p = event
                        .get("Properties")
                        .ok_or(format!("{id}: HttpApi event without Properties"))?;
                    let public = p
                        .get("Auth")
                        .and_then(|a| a.get("Authorizer"))
                        .and_then(Value::as_str)
                        == Some("NONE");
                    http_routes.push(HttpRoute {
                        method: p
                            .get("Method")
                            .and_then(Value::as_str)
                            .unwrap_or("ANY")
                            .to_ascii_uppercase(),
                        path: p
                            .get("Path")
                            .and_then(Value::as_str)
                            .ok_or(format!("{id}: route without Path"))?
                            .into(),
                        public,
                        function: id.to_string(),
                    });
                }
            }
            out.push(FunctionDef {
                logical_id: id.to_string(),
                name,
                environment,
                // Lambda's default when neither the function nor Globals set one.
                timeout_secs: props
                    .get("Timeout")
                    .and_then(Value::as_u64)
                    .or(global_timeout)
                    .unwrap_or(3),
                http_routes,
                sqs_sources,
                schedules,
                event_rules,
                async_config: AsyncConfig {
                    maximum_retry_attempts: props
                        .get("EventInvokeConfig")
                        .and_then(|c| c.get("MaximumRetryAttempts"))
                        .and_then(Value::as_u64)
                        .unwrap_or(2)
                        .min(2) as u32,
                    on_failure_queue: props
                        .get("EventInvokeConfig")
                        .and_then(|c| c.get("DestinationConfig"))
                        .and_then(|c| c.get("OnFailure"))
                        .and_then(|c| c.get("Destination"))
                        .and_then(getatt_target),
                },
            });
        }
        Ok(out)
    }

    pub fn websocket_routes(&self) -> Result<Vec<WsRoute>> {
        let integration_function = |integration: &str| -> Result<String> {
            let uri = self
                .resource_props(integration)
                .and_then(|p| p.get("IntegrationUri").or(p.get("AuthorizerUri")))
                .ok_or(format!("{integration}: no IntegrationUri/AuthorizerUri"))?;
            function_in_uri(uri).ok_or(format!("{integration}: the URI names no function"))
        };
        let mut routes = Vec::new();
        for (id, kind, resource) in self.resources() {
            if kind != "AWS::ApiGatewayV2::Route" {
                continue;
            }
            let props = resource
                .get("Properties")
                .ok_or(format!("{id}: no Properties"))?;
            let route_key = props
                .get("RouteKey")
                .and_then(Value::as_str)
                .ok_or(format!("{id}: no RouteKey"))?;
            let target = props
                .get("Target")
                .map(sub_template)
                .ok_or(format!("{id}: no Target"))?;
            let integration = target
                .trim_start_matches("integrations/")
                .trim_start_matches("${")
                .trim_end_matches('}')
                .to_string();
            let authorizer = match props.get("AuthorizerId").and_then(ref_target) {
                Some(authorizer) => Some(integration_function(&authorizer)?),
                None => None,
            };
            let two_way = self.resources().any(|(_, t, r)| {
                t == "AWS::ApiGatewayV2::RouteResponse"
                    && r.get("Properties")
                        .and_then(|p| p.get("RouteId"))
                        .and_then(ref_target)
                        .as_deref()
                        == Some(id)
            });
            routes.push(WsRoute {
                route_key: route_key.to_string(),
                function: integration_function(&integration)?,
                two_way,
                authorizer,
            });
        }
        Ok(routes)
    }

    /// The WebSocket stage name (`StageName` of the `AWS::ApiGatewayV2::Stage`).
    pub fn websocket_stage(&self) -> String {
        self.resources()
            .find(|(_, t, _)| *t == "AWS::ApiGatewayV2::Stage")
            .and_then(|(_, _, r)| {
                r.get("Properties")?
                    .get("StageName")
                    .map(|v| self.resolve(v))
            })
            .and_then(|r| r.ok())
            .unwrap_or_else(|| "local".into())
    }

    fn resource_props(&self, logical_id: &str) -> Option<&Value> {
        self.resources()
            .find(|(id, _, _)| *id == logical_id)
            .and_then(|(_, _, r)| r.get("Properties"))
    }

    /// Resolves a value with Ref / GetAtt / Sub to a string.
    pub fn resolve(&self, value: &Value) -> Result<String> {
        match value {
            Value::Tagged(tagged) => self.resolve_tagged(tagged),
            Value::Mapping(m) if m.len() == 1 => {
                let (k, v) = m.iter().next().expect("len 1");
                let tag = match k.as_str() {
                    Some("Ref") => "!Ref",
                    Some("Fn::GetAtt") => "!GetAtt",
                    Some("Fn::Sub") => "!Sub",
                    other => return Err(format!("unsupported intrinsic {other:?}")),
                };
                self.resolve_tagged(&TaggedValue {
                    tag: serde_norway::value::Tag::new(tag),
                    value: v.clone(),
                })
            }
            other => Ok(scalar_string(other)),
        }
    }

    fn resolve_tagged(&self, tagged: &TaggedValue) -> Result<String> {
        let tag = tagged.tag.to_string();
        match tag.as_str() {
            "!Ref" => self.resolve_ref(tagged.value.as_str().ok_or("!Ref needs a name")?),
            "!GetAtt" => {
                let target = match &tagged.value {
                    Value::String(s) => s.clone(),
                    Value::Sequence(parts) => parts
                        .iter()
                        .map(scalar_string)
                        .collect::<Vec<_>>()
                        .join("."),
                    _ => return Err("bad !GetAtt".into()),
                };
                self.resolve_getatt(&target)
            }
            "!Sub" => {
                let template = match &tagged.value {
                    Value::String(s) => s.clone(),
                    _ => return Err("only the string form of !Sub is supported".into()),
                };
                let mut out = String::new();
                let mut rest = template.as_str();
                while let Some(start) = rest.find("${") {
                    out.push_str(&rest[..start]);
                    let end = rest[start..].find('}').ok_or("unclosed ${ in !Sub")? + start;
                    let name = &rest[start + 2..end];
                    out.push_str(&match name.split_once('.') {
                        Some(_) => self.resolve_getatt(name)?,
                        None => self.resolve_ref(name)?,
                    });
                    rest = &rest[end + 1..];
                }
                out.push_str(rest);
                Ok(out)
            }
            other => Err(format!("unsupported tag {other}")),
        }
    }

    fn resolve_ref(&self, name: &str) -> Result<String> {
        match name {
            "AWS::Region" => return Ok(self.region.clone()),
            "AWS::AccountId" => return Ok(ACCOUNT_ID.into()),
            "AWS::Partition" => return Ok("aws".into()),
            "AWS::URLSuffix" => return Ok("amazonaws.com".into()),
            "AWS::StackName" => return Ok("versus-local".into()),
            _ => {}
        }
        if let Some(v) = self.parameters.get(name) {
            return Ok(v.clone());
        }
        match self.resource_type(name) {
            Some("AWS::DynamoDB::Table") => Ok(self.table_name(name)),
            Some("AWS::ApiGatewayV2::Api") => Ok(LOCAL_WEBSOCKET_API_ID.into()),
            Some("AWS::Serverless::HttpApi") => Ok(LOCAL_HTTP_API_ID.into()),
            Some("AWS::SQS::Queue") => self
                .queues
                .get(name)
                .map(|(url, _)| url.clone())
                .ok_or(format!("!Ref {name}: the queue has not been created")),
            // A bus's `Ref` is its name.
            Some("AWS::Events::EventBus") => self
                .resource_props(name)
                .and_then(|p| p.get("Name"))
                .map(|v| self.resolve(v))
                .transpose()?
                .ok_or(format!("!Ref {name}: the bus has no Name")),
            Some("AWS::SecretsManager::Secret") => self
                .secret_arns
                .get(name)
                .cloned()
                .ok_or(format!("!Ref {name}: the secret has not been created")),
            Some(_) => Ok(name.to_string()),
            None => Err(format!(
                "!Ref {name}: no such parameter or resource (or a parameter without a value)"
            )),
        }
    }

    fn resolve_getatt(&self, target: &str) -> Result<String> {
        let (resource, attribute) = target
            .split_once('.')
            .ok_or(format!("bad GetAtt {target}"))?;
        match (self.resource_type(resource), attribute) {
            (Some("AWS::DynamoDB::Table"), "Arn") => Ok(format!(
                "arn:aws:dynamodb:{}:{ACCOUNT_ID}:table/{}",
                self.region,
                self.table_name(resource)
            )),
            (Some("AWS::SQS::Queue"), "Arn") => self
                .queues
                .get(resource)
                .map(|(_, arn)| arn.clone())
                .ok_or(format!("GetAtt {target}: the queue has not been created")),
            (Some("AWS::Serverless::Function"), "Arn") => Ok(format!(
                "arn:aws:lambda:{}:{ACCOUNT_ID}:function:{resource}",
                self.region
            )),
            (Some(_), _) => Ok(format!("{resource}.{attribute}")),
            (None, _) => Err(format!("GetAtt {target}: no such resource")),
        }
    }
}

fn scalar_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => String::new(),
    }
}

fn sub_template(v: &Value) -> String {
    match v {
        Value::Tagged(t) => scalar_string(&t.value),
        Value::Mapping(m) => m.values().next().map(scalar_string).unwrap_or_default(),
        other => scalar_string(other),
    }
}

fn ref_target(v: &Value) -> Option<String> {
    match v {
        Value::Tagged(t) if t.tag == "!Ref" => t.value.as_str().map(str::to_string),
        Value::Mapping(m) => m.get("Ref").and_then(Value::as_str).map(str::to_string),
        _ => None,
    }
}

/// `!GetAtt Queue.Arn` (either form) → `Queue`.
fn getatt_target(v: &Value) -> Option<String> {
    let target = match v {
        Value::Tagged(t) if t.tag == "!GetAtt" => match &t.value {
            Value::String(s) => s.clone(),
            Value::Sequence(parts) => parts
                .iter()
                .map(scalar_string)
                .collect::<Vec<_>>()
                .join("."),
            _ => return None,
        },
        Value::Mapping(m) => match m.get("Fn::GetAtt")? {
            Value::Sequence(parts) => parts
                .iter()
                .map(scalar_string)
                .collect::<Vec<_>>()
                .join("."),
            Value::String(s) => s.clone(),
            _ => return None,
        },
        _ => return None,
    };
    target.split_once('.').map(|(r, _)| r.to_string())
}

/// `arn:...:functions/${WsPresenceFunction.Arn}/invocations` → `WsPresenceFunction`.
fn function_in_uri(uri: &Value) -> Option<String> {
    let text = sub_template(uri);
    let end = text.find(".Arn}")?;
    let start = text[..end].rfind("${")? + 2;
    Some(text[start..end].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template() -> Template {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../template.yaml");
        let mut t = Template::load(&path, "t_", &crate::local_parameters(&HashMap::new())).unwrap();
        for secret in t.secrets() {
            t.set_secret(&secret.logical_id, format!("arn:secret:{}", secret.name));
        }
        for q in t.queues() {
            t.set_queue(
                &q.logical_id,
                format!("http://sqs/{}", q.name),
                format!("arn:sqs:{}", q.name),
            );
        }
        t
    }

    #[test]
    fn queues_and_their_event_sources() {
        let t = template();
        let queues: Vec<String> = t.queues().into_iter().map(|q| q.logical_id).collect();
        // The dead-letter queue exists before the queue that names it.
        let dlq = queues
            .iter()
            .position(|q| q == "InvitationTimeoutsDlq")
            .unwrap();
        let main = queues
            .iter()
            .position(|q| q == "InvitationTimeoutsQueue")
            .unwrap();
        assert!(dlq < main);
        let functions = t.functions().unwrap();
        let timeouts = functions
            .iter()
            .find(|f| f.name == "invitation-timeouts")
            .unwrap();
        let jobs = functions
            .iter()
            .find(|f| f.name == "scheduled-jobs")
            .unwrap();
        let bonus = jobs
            .schedules
            .iter()
            .find(|s| s.name == "StreakBonus")
            .unwrap();
        assert_eq!(bonus.expression, "cron(55 23 * * ? *)");
        // EventBridge Scheduler fills in the slot (F-JOB-7); the run fans
        // the date out (issue 23).
        assert_eq!(
            bonus.input.as_deref(),
            Some(r#"{"job":"streak_bonus","at":"<aws.scheduler.scheduled-time>","fan_out":true}"#)
        );
        let source = &timeouts.sqs_sources[0];
        assert_eq!(source.queue, "InvitationTimeoutsQueue");
        assert_eq!(source.batch_size, 10);
        assert!(source.report_batch_item_failures);
        let matchmaking = functions
            .iter()
            .find(|f| f.name == "ws-matchmaking")
            .unwrap();
        assert_eq!(
            matchmaking.environment["INVITATION_TIMEOUTS_QUEUE_URL"],
            "http://sqs/t_InvitationTimeoutsQueue"
        );
    }

    #[test]
    fn functions_get_resolved_environment_and_routes() {
        let t = template();
        let functions = t.functions().unwrap();
        let profile = functions.iter().find(|f| f.name == "profile-api").unwrap();
        assert_eq!(profile.environment["USERS_TABLE"], "t_UsersTable");
        assert_eq!(profile.environment["JWT_ISSUER"], "versus-local");
        assert_eq!(profile.environment["ONLINE_SHARDS"], "16");
        let health = profile
            .http_routes
            .iter()
            .find(|r| r.path == "/v1/health")
            .unwrap();
        assert!(health.public);
        assert!(profile
            .http_routes
            .iter()
            .filter(|r| r.path == "/v1/me")
            .all(|r| !r.public));
    }

    #[test]
    fn websocket_routes_resolve_to_functions() {
        let routes = template().websocket_routes().unwrap();
        let connect = routes.iter().find(|r| r.route_key == "$connect").unwrap();
        assert_eq!(connect.function, "WsPresenceFunction");
        assert_eq!(connect.authorizer.as_deref(), Some("WsAuthorizerFunction"));
        assert!(
            routes
                .iter()
                .find(|r| r.route_key == "ping")
                .unwrap()
                .two_way
        );
        assert!(
            !routes
                .iter()
                .find(|r| r.route_key == "$disconnect")
                .unwrap()
                .two_way
        );
    }

    #[test]
    fn tables_come_from_the_template() {
        let names: Vec<String> = template().tables().into_iter().map(|t| t.name).collect();
        assert_eq!(names.len(), 3);
        assert!(names.contains(&"t_UsersTable".to_string()));
    }

    #[test]
    fn overrides_replace_defaults_and_unknown_names_are_refused() {
        let text = "Parameters:\n  SmsProvider:\n    Type: String\n    Default: console\n";
        let t = Template::parse(
            text,
            "t_",
            &HashMap::from([("SmsProvider".into(), "twilio".into())]),
        )
        .unwrap();
        assert_eq!(t.parameter("SmsProvider").as_deref(), Some("twilio"));
        let err = Template::parse(text, "t_", &HashMap::from([("Typo".into(), "x".into())]))
            .err()
            .unwrap();
        assert!(err.to_string().contains("Typo"), "{err}");
    }

    #[test]
    fn a_missing_parameter_is_reported() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../template.yaml");
        let mut t = Template::load(&path, "t_", &HashMap::new()).unwrap();
        for q in t.queues() {
            t.set_queue(&q.logical_id, "u".into(), "a".into());
        }
        let err = t.functions().unwrap_err();
        assert!(err.contains("JwtIssuer"), "{err}");
    }
}
