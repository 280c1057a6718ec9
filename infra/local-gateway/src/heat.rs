//! The heat meter (`scripts/bench`): the read and write units each
//! operation puts on every partition key value, of every base table **and
//! every global secondary index**.
//!
//! DynamoDB serves at most 3,000 read units and 1,000 write units per second
//! per partition key value, for a table and for each of its indexes apart
//! (an index that throttles throttles its table's writes too). So what caps
//! an operation's rate is its hottest *shared* key: the key many operations
//! touch (`QUEUE#duel`, an `ONLINE#` shard), not the per-player ones.
//!
//! How units are attributed:
//! - totals come from DynamoDB Local itself (`ReturnConsumedCapacity:
//!   INDEXES` is added to every call): per table and per index;
//! - a read's units go to the partition key it names (a Query's key
//!   condition, a GetItem's key; a batch splits its units evenly over its
//!   keys; a Scan goes to `(scan)`);
//! - a write's units are split over the items it writes, and over the index
//!   entries it adds, moves or removes, found by reading each written item
//!   just before and just after the call (consistent reads that go straight
//!   to DynamoDB Local, uncounted). An index entry that moves is a delete
//!   under the old key and a put under the new one.
//!
//! The before/after reads assume no other write to the same item is in
//! flight: the benches run their measured calls one at a time.

use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The per-partition-key limits DynamoDB documents (units per second).
pub const READ_LIMIT: f64 = 3000.0;
pub const WRITE_LIMIT: f64 = 1000.0;

/// One partition key value of a table or of one of its indexes.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PartitionKey {
    /// `users` or `users/online` (the table's logical part of its name).
    pub space: String,
    pub value: String,
}

#[derive(Clone, Debug, Default)]
pub struct Load {
    pub read: f64,
    pub write: f64,
    /// Which operations (by number) touched the key.
    pub ops: BTreeSet<usize>,
}

/// What the meter has seen since it was last reset.
#[derive(Default)]
pub struct Heat {
    pub keys: BTreeMap<PartitionKey, Load>,
    pub op: usize,
    schemas: HashMap<String, Schema>,
}

/// A table's key attributes and those of its indexes.
#[derive(Clone, Debug, Default)]
pub struct Schema {
    pub hash: String,
    pub range: Option<String>,
    /// name -> (hash, range, projected attributes or None for ALL)
    pub indexes: BTreeMap<String, IndexSchema>,
}

#[derive(Clone, Debug)]
pub struct IndexSchema {
    pub hash: String,
    pub range: Option<String>,
    /// `None`: every attribute; else the projected non-key ones.
    pub projected: Option<Vec<String>>,
}

impl Schema {
    /// From a DescribeTable answer.
    pub fn from_description(table: &Value) -> Schema {
        let keys = |schema: &Value| {
            let mut hash = String::new();
            let mut range = None;
            for k in schema.as_array().into_iter().flatten() {
                let name = k["AttributeName"].as_str().unwrap_or_default().to_string();
                match k["KeyType"].as_str() {
                    Some("HASH") => hash = name,
                    _ => range = Some(name),
                }
            }
            (hash, range)
        };
        let (hash, range) = keys(&table["KeySchema"]);
        let mut indexes = BTreeMap::new();
        for index in table["GlobalSecondaryIndexes"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let (ih, ir) = keys(&index["KeySchema"]);
            let projected = match index["Projection"]["ProjectionType"].as_str() {
                Some("ALL") => None,
                _ => Some(
                    index["Projection"]["NonKeyAttributes"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|v| v.as_str().map(String::from))
                        .collect(),
                ),
            };
            let name = index["IndexName"].as_str().unwrap_or_default().to_string();
            indexes.insert(
                name,
                IndexSchema {
                    hash: ih,
                    range: ir,
                    projected,
                },
            );
        }
        Schema {
            hash,
            range,
            indexes,
        }
    }

    /// The primary key attributes of `item`.
    pub fn key_of(&self, item: &Value) -> Value {
        let mut key = Map::new();
        for name in std::iter::once(&self.hash).chain(self.range.as_ref()) {
            if let Some(v) = item.get(name) {
                key.insert(name.clone(), v.clone());
            }
        }
        Value::Object(key)
    }
}

/// The short name of a table: what follows the scratch prefix
/// (`bench_01h..._users` -> `users`).
pub fn space(table: &str) -> String {
    table.rsplit('_').next().unwrap_or(table).to_string()
}

/// The printable value of a key attribute (`{"S": "QUEUE#duel"}`).
fn scalar(v: &Value) -> String {
    v.as_object()
        .and_then(|o| o.values().next())
        .map(|v| {
            v.as_str()
                .map(String::from)
                .unwrap_or_else(|| v.to_string())
        })
        .unwrap_or_default()
}

/// Item size as DynamoDB counts it (names plus values), close enough to
/// round to the same units.
pub fn item_size(item: &Value) -> usize {
    item.as_object()
        .map(|o| o.iter().map(|(k, v)| k.len() + value_size(v)).sum())
        .unwrap_or(0)
}

fn value_size(v: &Value) -> usize {
    let Some((kind, inner)) = v.as_object().and_then(|o| o.iter().next()) else {
        return 0;
    };
    match kind.as_str() {
        "S" => inner.as_str().map_or(0, str::len),
        "N" => inner.as_str().map_or(0, |n| n.len() / 2 + 1),
        "B" => inner.as_str().map_or(0, |b| b.len() * 3 / 4),
        "SS" | "NS" | "BS" => inner.as_array().map_or(0, |a| {
            a.iter().map(|x| x.as_str().map_or(0, str::len)).sum()
        }),
        "L" => {
            3 + inner
                .as_array()
                .map_or(0, |a| a.iter().map(|x| 1 + value_size(x)).sum())
        }
        "M" => {
            3 + inner.as_object().map_or(0, |m| {
                m.iter().map(|(k, x)| 1 + k.len() + value_size(x)).sum()
            })
        }
        _ => 1,
    }
}

/// What a write did to one item: the table, its key, and the item before
/// and after (`None`: absent).
pub struct Written {
    pub table: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// An index entry: its partition key value and the whole entry (for size).
fn index_entry(
    item: &Option<Value>,
    schema: &Schema,
    index: &IndexSchema,
) -> Option<(String, String, Value)> {
    let item = item.as_ref()?;
    let hash = item.get(&index.hash)?;
    let range = match &index.range {
        Some(r) => Some(item.get(r)?),
        None => None,
    };
    let mut entry = Map::new();
    for (k, v) in item.as_object()? {
        let is_key = *k == schema.hash
            || Some(k) == schema.range.as_ref()
            || *k == index.hash
            || Some(k) == index.range.as_ref();
        let projected = index.projected.as_ref().is_none_or(|p| p.contains(k));
        if is_key || projected {
            entry.insert(k.clone(), v.clone());
        }
    }
    Some((
        scalar(hash),
        range.map(scalar).unwrap_or_default(),
        Value::Object(entry),
    ))
}

/// Index entry changes of one write: (index, partition key value, weight).
fn index_changes(w: &Written, schema: &Schema) -> Vec<(String, String, f64)> {
    let units = |entry: &Value| ((item_size(entry) + 100) as f64 / 1024.0).ceil();
    let mut out = vec![];
    for (name, index) in &schema.indexes {
        let old = index_entry(&w.before, schema, index);
        let new = index_entry(&w.after, schema, index);
        match (old, new) {
            (Some(o), Some(n)) if o.0 == n.0 && o.1 == n.1 => {
                if o.2 != n.2 {
                    out.push((name.clone(), n.0, units(&n.2)));
                }
            }
            (o, n) => {
                if let Some(o) = o {
                    out.push((name.clone(), o.0, units(&o.2)));
                }
                if let Some(n) = n {
                    out.push((name.clone(), n.0, units(&n.2)));
                }
            }
        }
    }
    out
}

impl Heat {
    pub fn schema(&self, table: &str) -> Option<&Schema> {
        self.schemas.get(table)
    }

    pub fn learn(&mut self, table: &str, schema: Schema) {
        self.schemas.insert(table.to_string(), schema);
    }

    /// Starts a new operation: what follows is counted as its own.
    pub fn next_op(&mut self) {
        self.op += 1;
    }

    pub fn reset(&mut self) {
        self.keys.clear();
        self.op = 0;
    }

    fn add(&mut self, space: String, value: String, read: f64, write: f64) {
        let op = self.op;
        let load = self.keys.entry(PartitionKey { space, value }).or_default();
        load.read += read;
        load.write += write;
        load.ops.insert(op);
    }

    /// A read's units (`ConsumedCapacity` entries) over the keys it named.
    pub fn record_read(&mut self, consumed: &[Value], keys: &[(String, Option<String>, String)]) {
        for c in consumed {
            let table = c["TableName"].as_str().unwrap_or_default();
            let mine: Vec<&(String, Option<String>, String)> =
                keys.iter().filter(|(t, _, _)| t == table).collect();
            let mut parts = vec![(None, c["Table"]["CapacityUnits"].as_f64())];
            for (index, units) in c["GlobalSecondaryIndexes"]
                .as_object()
                .into_iter()
                .flatten()
            {
                parts.push((Some(index.clone()), units["CapacityUnits"].as_f64()));
            }
            if parts.iter().all(|(_, u)| u.is_none()) {
                parts = vec![(None, c["CapacityUnits"].as_f64())];
            }
            for (index, units) in parts {
                let units = units.unwrap_or(0.0);
                if units == 0.0 {
                    continue;
                }
                let here: Vec<&&(String, Option<String>, String)> =
                    mine.iter().filter(|(_, i, _)| *i == index).collect();
                let space = match &index {
                    Some(i) => format!("{}/{i}", space(table)),
                    None => space(table),
                };
                if here.is_empty() {
                    self.add(space, "(scan)".into(), units, 0.0);
                } else {
                    let share = units / here.len() as f64;
                    for (_, _, value) in here {
                        self.add(space.clone(), value.clone(), share, 0.0);
                    }
                }
            }
        }
    }

    /// A write's units, split over the items and index entries it wrote.
    pub fn record_write(&mut self, consumed: &[Value], written: &[Written]) {
        for c in consumed {
            let table = c["TableName"].as_str().unwrap_or_default().to_string();
            let Some(schema) = self.schemas.get(&table).cloned() else {
                continue;
            };
            let items: Vec<&Written> = written.iter().filter(|w| w.table == table).collect();
            let table_units = c["Table"]["CapacityUnits"]
                .as_f64()
                .or_else(|| c["CapacityUnits"].as_f64())
                .unwrap_or(0.0);
            let weights: Vec<(String, f64)> = items
                .iter()
                .map(|w| {
                    let image = w.after.as_ref().or(w.before.as_ref());
                    let hash = image
                        .and_then(|i| i.get(&schema.hash))
                        .map(scalar)
                        .unwrap_or_default();
                    let size = w
                        .before
                        .as_ref()
                        .map_or(0, item_size)
                        .max(w.after.as_ref().map_or(0, item_size));
                    (hash, (size.max(1) as f64 / 1024.0).ceil())
                })
                .collect();
            self.spread(space(&table), &weights, table_units);
            let changes: Vec<(String, String, f64)> = items
                .iter()
                .flat_map(|w| index_changes(w, &schema))
                .collect();
            for (index, units) in c["GlobalSecondaryIndexes"]
                .as_object()
                .into_iter()
                .flatten()
            {
                let units = units["CapacityUnits"].as_f64().unwrap_or(0.0);
                let weights: Vec<(String, f64)> = changes
                    .iter()
                    .filter(|(i, _, _)| i == index)
                    .map(|(_, v, w)| (v.clone(), *w))
                    .collect();
                self.spread(format!("{}/{index}", space(&table)), &weights, units);
            }
        }
    }

    fn spread(&mut self, space: String, weights: &[(String, f64)], units: f64) {
        if units == 0.0 {
            return;
        }
        let total: f64 = weights.iter().map(|(_, w)| w).sum();
        if total == 0.0 {
            self.add(space, "(unattributed)".into(), 0.0, units);
            return;
        }
        for (value, w) in weights {
            self.add(space.clone(), value.clone(), 0.0, units * w / total);
        }
    }
}

impl Heat {
    /// A PartiQL `SELECT ... WHERE pk IN [?, ...]` (DynamoDB Local reports no
    /// capacity for these): each named partition is a query of its own, at
    /// least one unit (half, eventually consistent) and one per 4 KB read.
    pub fn record_statement(&mut self, request: &Value, answer: &Value) {
        let statement = request["Statement"].as_str().unwrap_or_default();
        let Some(table) = statement.split('"').nth(1) else {
            return;
        };
        let Some(schema) = self.schemas.get(table).cloned() else {
            return;
        };
        let unit = if request["ConsistentRead"].as_bool() == Some(true) {
            1.0
        } else {
            0.5
        };
        let mut bytes: BTreeMap<String, usize> = BTreeMap::new();
        for p in request["Parameters"].as_array().into_iter().flatten() {
            bytes.entry(scalar(p)).or_default();
        }
        for item in answer["Items"].as_array().into_iter().flatten() {
            if let Some(pk) = item.get(&schema.hash) {
                *bytes.entry(scalar(pk)).or_default() += item_size(item);
            }
        }
        for (pk, size) in bytes {
            let units = unit * (size as f64 / 4096.0).ceil().max(1.0);
            self.add(space(table), pk, units, 0.0);
        }
    }
}

/// The keys a read request names: (table, index, partition key value).
pub fn read_keys(
    operation: &str,
    body: &Value,
    heat: &Heat,
) -> Vec<(String, Option<String>, String)> {
    let mut out = vec![];
    let mut by_key = |table: &str, key: &Value| {
        if let Some(schema) = heat.schema(table) {
            if let Some(v) = key.get(&schema.hash) {
                out.push((table.to_string(), None, scalar(v)));
            }
        }
    };
    match operation {
        "GetItem" => by_key(body["TableName"].as_str().unwrap_or_default(), &body["Key"]),
        "BatchGetItem" => {
            for (table, req) in body["RequestItems"].as_object().into_iter().flatten() {
                for key in req["Keys"].as_array().into_iter().flatten() {
                    by_key(table, key);
                }
            }
        }
        "TransactGetItems" => {
            for item in body["TransactItems"].as_array().into_iter().flatten() {
                by_key(
                    item["Get"]["TableName"].as_str().unwrap_or_default(),
                    &item["Get"]["Key"],
                );
            }
        }
        "Query" => {
            let table = body["TableName"].as_str().unwrap_or_default();
            let index = body["IndexName"].as_str().map(String::from);
            if let Some(value) = query_partition(body, heat, table, index.as_deref()) {
                out.push((table.to_string(), index, value));
            }
        }
        _ => {}
    }
    out
}

/// The partition key value a Query's key condition names.
fn query_partition(body: &Value, heat: &Heat, table: &str, index: Option<&str>) -> Option<String> {
    let schema = heat.schema(table)?;
    let hash = match index {
        Some(i) => &schema.indexes.get(i)?.hash,
        None => &schema.hash,
    };
    let condition = body["KeyConditionExpression"].as_str()?;
    for clause in condition.split(" AND ").flat_map(|c| c.split(" and ")) {
        let Some((lhs, rhs)) = clause.split_once('=') else {
            continue;
        };
        let lhs = lhs.trim().trim_start_matches('(');
        let name = if lhs.starts_with('#') {
            body["ExpressionAttributeNames"][lhs].as_str()?
        } else {
            lhs
        };
        if name == hash {
            let placeholder = rhs.trim().trim_end_matches(')');
            return Some(scalar(&body["ExpressionAttributeValues"][placeholder]));
        }
    }
    None
}

/// The items a write request touches: (table, key).
pub fn written_keys(operation: &str, body: &Value, heat: &Heat) -> Vec<(String, Value)> {
    let mut out = vec![];
    let mut add = |table: &str, item_or_key: &Value| {
        if let Some(schema) = heat.schema(table) {
            out.push((table.to_string(), schema.key_of(item_or_key)));
        }
    };
    match operation {
        "PutItem" => add(
            body["TableName"].as_str().unwrap_or_default(),
            &body["Item"],
        ),
        "UpdateItem" | "DeleteItem" => {
            add(body["TableName"].as_str().unwrap_or_default(), &body["Key"])
        }
        "BatchWriteItem" => {
            for (table, reqs) in body["RequestItems"].as_object().into_iter().flatten() {
                for r in reqs.as_array().into_iter().flatten() {
                    let item = if r["PutRequest"].is_object() {
                        &r["PutRequest"]["Item"]
                    } else {
                        &r["DeleteRequest"]["Key"]
                    };
                    add(table, item);
                }
            }
        }
        "TransactWriteItems" => {
            for item in body["TransactItems"].as_array().into_iter().flatten() {
                for (kind, field) in [
                    ("Put", "Item"),
                    ("Update", "Key"),
                    ("Delete", "Key"),
                    ("ConditionCheck", "Key"),
                ] {
                    if item[kind].is_object() {
                        add(
                            item[kind]["TableName"].as_str().unwrap_or_default(),
                            &item[kind][field],
                        );
                    }
                }
            }
        }
        _ => {}
    }
    out
}

/// The consistent GetItem body that reads one item's image.
pub fn image_request(table: &str, key: &Value) -> Value {
    json!({ "TableName": table, "Key": key, "ConsistentRead": true })
}

/// `ConsumedCapacity` of an answer, as a list.
pub fn consumed(answer: &Value) -> Vec<Value> {
    match &answer["ConsumedCapacity"] {
        Value::Array(a) => a.clone(),
        Value::Object(_) => vec![answer["ConsumedCapacity"].clone()],
        _ => vec![],
    }
}

/// The operations that write.
pub fn is_write(operation: &str) -> bool {
    matches!(
        operation,
        "PutItem" | "UpdateItem" | "DeleteItem" | "BatchWriteItem" | "TransactWriteItems"
    )
}

/// Keys only the local stack writes: the console provider's record of
/// what it "sent" stands in for a real provider's HTTP call.
pub const LOCAL_ONLY_KEYS: [&str; 1] = ["CONSOLE"];

/// One operation's line of the heat table.
pub struct Row {
    pub ops: usize,
    pub read_per_op: f64,
    pub write_per_op: f64,
    /// The shared key families, the one that binds first first.
    pub shared: Vec<Shared>,
}

/// A key family many operations share, and what one of its keys carries.
pub struct Shared {
    /// The family (`LB#* (256 shards)`).
    pub key: PartitionKey,
    pub read_per_op: f64,
    pub write_per_op: f64,
    /// How many operations touched it.
    pub ops: usize,
    /// Operations per second before one of its keys reaches its limit.
    pub ceiling: f64,
}

/// A key's family: its value without a trailing shard number
/// (`LB#023` -> `LB#*`); a key with none is a family of its own.
pub fn family(value: &str) -> String {
    match value.rsplit_once('#') {
        Some((base, shard)) if !shard.is_empty() && shard.bytes().all(|b| b.is_ascii_digit()) => {
            format!("{base}#*")
        }
        _ => value.to_string(),
    }
}

impl Heat {
    /// The row of what was recorded over `ops` operations.
    ///
    /// Keys are taken by family (the shards of one key): a family's load is
    /// spread over its shards by hash or at random, so what one shard
    /// carries is the family's units over the shards seen (the sample's
    /// busiest shard is above that by sampling noise only, which millions
    /// of operations average out; a shard the sample missed makes the mean
    /// higher, so the projection errs low). A family only one operation
    /// touched is one player's (it grows with the players) and caps
    /// nothing; the hottest of the others binds.
    pub fn row(&self, ops: usize) -> Row {
        let n = ops.max(1) as f64;
        let read_per_op = self.keys.values().map(|l| l.read).sum::<f64>() / n;
        let write_per_op = self.keys.values().map(|l| l.write).sum::<f64>() / n;
        let mut families: BTreeMap<PartitionKey, (Load, usize)> = BTreeMap::new();
        for (key, load) in &self.keys {
            if LOCAL_ONLY_KEYS.contains(&key.value.as_str()) {
                continue;
            }
            let name = PartitionKey {
                space: key.space.clone(),
                value: family(&key.value),
            };
            let (sum, shards) = families.entry(name).or_default();
            sum.read += load.read;
            sum.write += load.write;
            sum.ops.extend(&load.ops);
            *shards += 1;
        }
        let mut shared = vec![];
        for (key, (load, shards)) in families {
            if load.ops.len() < 2 {
                continue;
            }
            let per_shard = shards as f64 * n;
            let (r, w) = (load.read / per_shard, load.write / per_shard);
            shared.push(Shared {
                key: PartitionKey {
                    space: key.space,
                    value: if shards > 1 {
                        format!("{} ({shards} shards)", key.value)
                    } else {
                        key.value
                    },
                },
                read_per_op: r,
                write_per_op: w,
                ops: load.ops.len(),
                ceiling: (READ_LIMIT / r).min(WRITE_LIMIT / w),
            });
        }
        shared.sort_by(|a, b| a.ceiling.total_cmp(&b.ceiling));
        Row {
            ops,
            read_per_op,
            write_per_op,
            shared,
        }
    }
}

/// The heat table's head.
pub const TABLE_HEAD: &str = "| operation | ops | RCU/op | WCU/op | hottest shared key (family) | RCU/op on one of its keys | WCU/op on one of its keys | ops on it | projected ceiling, ops/s | target |\n|---|---:|---:|---:|---|---:|---:|---:|---:|---:|";

impl Row {
    /// The family that binds first.
    pub fn hottest(&self) -> Option<&Shared> {
        self.shared.first()
    }

    /// Operations per second before the hottest family reaches its limit.
    pub fn ceiling(&self) -> f64 {
        self.hottest().map_or(f64::INFINITY, |h| h.ceiling)
    }

    /// The next shared keys after the hottest, with their ceilings.
    pub fn runners_up(&self, how_many: usize) -> String {
        let next: Vec<String> = self
            .shared
            .iter()
            .skip(1)
            .take(how_many)
            .map(|s| format!("`{}` {} ({:.0}/s)", s.key.space, s.key.value, s.ceiling))
            .collect();
        if next.is_empty() {
            "-".into()
        } else {
            next.join(", ")
        }
    }

    pub fn line(&self, what: &str, target: &str) -> String {
        let (key, r, w, on, ceiling) = match self.hottest() {
            Some(h) => (
                format!("`{}` {}", h.key.space, h.key.value),
                h.read_per_op,
                h.write_per_op,
                h.ops.to_string(),
                format!("{:.0}", h.ceiling),
            ),
            None => (
                "none (only per-player keys)".into(),
                0.0,
                0.0,
                "-".into(),
                "unbounded".into(),
            ),
        };
        format!(
            "| {what} | {} | {:.2} | {:.2} | {key} | {r:.3} | {w:.3} | {on} | {ceiling} | {target} |",
            self.ops, self.read_per_op, self.write_per_op
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> Schema {
        Schema::from_description(&json!({
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            "GlobalSecondaryIndexes": [{
                "IndexName": "due",
                "KeySchema": [{"AttributeName": "due_shard", "KeyType": "HASH"}, {"AttributeName": "due_at", "KeyType": "RANGE"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"}
            }]
        }))
    }

    fn item(due: Option<(&str, &str)>, status: &str) -> Value {
        let mut i = json!({"pk": {"S": "SMS#1"}, "sk": {"S": "LOG"}, "status": {"S": status}});
        if let Some((shard, at)) = due {
            i["due_shard"] = json!({"S": shard});
            i["due_at"] = json!({"N": at});
        }
        i
    }

    #[test]
    fn a_moved_index_entry_is_a_delete_and_a_put_and_an_untouched_one_costs_nothing() {
        let mut heat = Heat::default();
        heat.learn("p_SmsTable", schema());
        heat.next_op();
        let moved = Written {
            table: "p_SmsTable".into(),
            before: Some(item(Some(("DUE#01", "1")), "pending")),
            after: Some(item(Some(("DUE#02", "2")), "sending")),
        };
        let consumed = json!({"TableName": "p_SmsTable", "Table": {"CapacityUnits": 1.0},
            "GlobalSecondaryIndexes": {"due": {"CapacityUnits": 2.0}}});
        heat.record_write(std::slice::from_ref(&consumed), &[moved]);
        let load = |space: &str, value: &str| {
            heat.keys
                .get(&PartitionKey {
                    space: space.into(),
                    value: value.into(),
                })
                .map(|l| l.write)
        };
        assert_eq!(load("SmsTable/due", "DUE#01"), Some(1.0));
        assert_eq!(load("SmsTable/due", "DUE#02"), Some(1.0));
        assert_eq!(load("SmsTable", "SMS#1"), Some(1.0));
        // KEYS_ONLY and the keys unchanged: the index entry is not written.
        let same = Written {
            table: "p_SmsTable".into(),
            before: Some(item(Some(("DUE#02", "2")), "sending")),
            after: Some(item(Some(("DUE#02", "2")), "sent")),
        };
        assert!(index_changes(&same, &schema()).is_empty());
    }

    #[test]
    fn shared_keys_bind_and_a_players_own_key_does_not() {
        let mut heat = Heat::default();
        for op in 0..4 {
            heat.next_op();
            heat.add("T".into(), "HOT".into(), 0.0, 2.0);
            heat.add("T".into(), format!("USER#u{op}"), 0.0, 50.0);
        }
        let row = heat.row(4);
        assert_eq!(row.hottest().unwrap().key.value, "HOT");
        assert_eq!(row.ceiling(), 500.0);
        assert_eq!(row.write_per_op, 52.0);
    }

    #[test]
    fn shards_are_one_family_and_their_load_is_averaged() {
        assert_eq!(family("LB#023"), "LB#*");
        assert_eq!(
            family("DEADLINE#2026-11-22T18#07"),
            "DEADLINE#2026-11-22T18#*"
        );
        assert_eq!(family("COST#2026-12"), "COST#2026-12");
        assert_eq!(family("USER#user0000005"), "USER#user0000005");
        let mut heat = Heat::default();
        for op in 0..8 {
            heat.next_op();
            // Two shards, one busier in this sample.
            let shard = if op < 6 { "Q#0" } else { "Q#1" };
            heat.add("T".into(), shard.into(), 0.0, 4.0);
        }
        let row = heat.row(8);
        // 32 units over 2 shards and 8 operations: 2 a shard per operation.
        assert_eq!(row.ceiling(), 500.0);
        assert_eq!(row.hottest().unwrap().key.value, "Q#* (2 shards)");
    }

    #[test]
    fn a_query_names_its_partition() {
        let mut heat = Heat::default();
        heat.learn("t", schema());
        let body = json!({"TableName": "t", "IndexName": "due",
            "KeyConditionExpression": "#s = :s AND due_at <= :now",
            "ExpressionAttributeNames": {"#s": "due_shard"},
            "ExpressionAttributeValues": {":s": {"S": "DUE#07"}, ":now": {"N": "5"}}});
        assert_eq!(
            read_keys("Query", &body, &heat),
            vec![(
                "t".to_string(),
                Some("due".to_string()),
                "DUE#07".to_string()
            )]
        );
    }
}
