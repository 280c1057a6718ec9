//! Creates the template's tables in DynamoDB Local: the schema exists once, in template.yaml.

use crate::template::TableDef;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};
use aws_sdk_dynamodb::Client;
use serde_norway::Value;

fn field<'a>(v: &'a Value, name: &str) -> Result<&'a str, String> {
    v.get(name)
        .and_then(Value::as_str)
        .ok_or(format!("missing {name}"))
}

fn key_schema(v: Option<&Value>) -> Result<Vec<KeySchemaElement>, String> {
    v.and_then(Value::as_sequence)
        .ok_or("missing KeySchema")?
        .iter()
        .map(|k| {
            KeySchemaElement::builder()
                .attribute_name(field(k, "AttributeName")?)
                .key_type(KeyType::from(field(k, "KeyType")?))
                .build()
                .map_err(|e| e.to_string())
        })
        .collect()
}

/// Creates one table (and its TTL setting). An existing table is left as it is.
pub async fn create(client: &Client, def: &TableDef) -> Result<(), String> {
    let props = Value::Mapping(def.properties.clone());
    let mut request = client
        .create_table()
        .table_name(&def.name)
        .billing_mode(BillingMode::PayPerRequest)
        .set_key_schema(Some(key_schema(props.get("KeySchema"))?));
    for a in props
        .get("AttributeDefinitions")
        .and_then(Value::as_sequence)
        .ok_or("missing AttributeDefinitions")?
    {
        request = request.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(field(a, "AttributeName")?)
                .attribute_type(ScalarAttributeType::from(field(a, "AttributeType")?))
                .build()
                .map_err(|e| e.to_string())?,
        );
    }
    for g in props
        .get("GlobalSecondaryIndexes")
        .and_then(Value::as_sequence)
        .into_iter()
        .flatten()
    {
        let projection = g.get("Projection").ok_or("GSI without Projection")?;
        let non_key: Option<Vec<String>> = projection
            .get("NonKeyAttributes")
            .and_then(Value::as_sequence)
            .map(|s| {
                s.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            });
        request = request.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(field(g, "IndexName")?)
                .set_key_schema(Some(key_schema(g.get("KeySchema"))?))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::from(field(projection, "ProjectionType")?))
                        .set_non_key_attributes(non_key)
                        .build(),
                )
                .build()
                .map_err(|e| e.to_string())?,
        );
    }
    match request.send().await {
        Ok(_) => {}
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_in_use_exception()) =>
        {
            return Ok(())
        }
        Err(e) => {
            return Err(format!(
                "creating {}: {}",
                def.name,
                versus::db::DisplayErrorContext(&e)
            ))
        }
    }
    if let Some(ttl) = props.get("TimeToLiveSpecification") {
        let spec = TimeToLiveSpecification::builder()
            .attribute_name(field(ttl, "AttributeName")?)
            .enabled(ttl.get("Enabled").and_then(Value::as_bool).unwrap_or(true))
            .build()
            .map_err(|e| e.to_string())?;
        client
            .update_time_to_live()
            .table_name(&def.name)
            .time_to_live_specification(spec)
            .send()
            .await
            .map_err(|e| {
                format!(
                    "TTL on {}: {}",
                    def.name,
                    versus::db::DisplayErrorContext(&e)
                )
            })?;
    }
    Ok(())
}

pub async fn create_all(client: &Client, defs: &[TableDef]) -> Result<(), String> {
    for def in defs {
        create(client, def).await?;
    }
    Ok(())
}

/// Fresh tables, named `<tag>_<unique id>_<logical id>`, as template.yaml
/// (read from the current directory) declares them, and the configuration a
/// function gets for them, plus `extra` variables: storage without a gateway,
/// for the benchmarks.
pub async fn scratch_config(
    client: &Client,
    tag: &str,
    extra: &[(&str, String)],
) -> Result<versus::Config, String> {
    let prefix = format!("{tag}_{}_", ulid::Ulid::new().to_string().to_lowercase());
    let prefix = prefix.as_str();
    let params = crate::local_parameters(&std::collections::HashMap::new());
    let mut template = crate::template::Template::load("template.yaml".as_ref(), prefix, &params)?;
    // No queue or secret exists here: what names them is left out below.
    for q in template.queues() {
        template.set_queue(&q.logical_id, String::new(), String::new());
    }
    for secret in template.secrets() {
        template.set_secret(&secret.logical_id, String::new());
    }
    create_all(client, &template.tables()).await?;
    // The template's settings, as a deployed function has them (the points
    // API's: it has every shared one), then the tables and the caller's.
    let deployed: Vec<(String, String)> = template
        .functions()?
        .into_iter()
        .find(|f| f.name == "points-api")
        .map(|f| f.environment.into_iter().collect())
        .unwrap_or_default();
    let env: std::collections::HashMap<String, String> = deployed
        .into_iter()
        .filter(|(k, v)| {
            !v.is_empty() && !["_URL", "_ARN", "_ENDPOINT"].iter().any(|s| k.ends_with(s))
        })
        .chain(
            [
                ("USERS_TABLE", template.table_name("UsersTable")),
                ("BATTLES_TABLE", template.table_name("BattlesTable")),
                ("SMS_TABLE", template.table_name("SmsTable")),
                ("JWT_DEV_SECRET", "bench".into()),
                ("JWT_ISSUER", crate::LOCAL_ISSUER.into()),
                ("JWT_AUDIENCE", crate::LOCAL_AUDIENCE.into()),
            ]
            .into_iter()
            .chain(extra.iter().cloned())
            .map(|(k, v)| (k.to_string(), v)),
        )
        .collect();
    versus::Config::from_map(&env).map_err(|e| e.to_string())
}
