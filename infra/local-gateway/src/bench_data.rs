//! Players the benches load straight into DynamoDB Local: `user0000000`
//! ... with points, every tenth one online (in the `online` index).

use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use futures::stream::{self, StreamExt};
use std::collections::HashMap;
use versus::keys::users::online_shard;
use versus::profile::{Availability, PlayerRole, PointsState, Profile};

/// The id of the `i`th loaded player.
pub fn user(i: usize) -> String {
    format!("user{i:07}")
}

/// Whether the `i`th loaded player is online.
pub fn is_online(i: usize) -> bool {
    i % 10 == 0
}

fn profile(i: usize, now: i64, shards: u32) -> Profile {
    let id = user(i);
    let online = is_online(i);
    let seen = if online {
        now - 30_000
    } else {
        now - 86_400_000
    };
    Profile {
        availability: Availability {
            is_available_for_battles: true,
            last_seen_at: Some(seen),
            online_shard: Some(online_shard(&id, shards)),
            online_until: Some(seen + 300_000),
            privileged_role: None,
        },
        points: PointsState {
            total_points: (i % 5000) as i64,
            ..Default::default()
        },
        user_id: id,
        username: format!("player{i}"),
        display_name: format!("Player {i}"),
        role: PlayerRole::Explorer,
        timezone: "UTC".into(),
        created_at: now,
        updated_at: now,
        version: 1,
        ..Default::default()
    }
}

/// Loads `size` players into `table` (25 per BatchWriteItem, 8 at once).
pub async fn populate(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    size: usize,
    now: i64,
    online_shards: u32,
) {
    let chunks: Vec<Vec<usize>> = (0..size)
        .collect::<Vec<_>>()
        .chunks(25)
        .map(<[usize]>::to_vec)
        .collect();
    stream::iter(chunks)
        .for_each_concurrent(8, |chunk| async move {
            let mut requests: Vec<WriteRequest> = chunk
                .iter()
                .map(|&i| {
                    let p = profile(i, now, online_shards);
                    let mut item: HashMap<String, AttributeValue> =
                        serde_dynamo::to_item(&p).expect("profile item");
                    item.extend(versus::db::key(format!("USER#{}", p.user_id), "PROFILE"));
                    WriteRequest::builder()
                        .put_request(
                            PutRequest::builder()
                                .set_item(Some(item))
                                .build()
                                .expect("item"),
                        )
                        .build()
                })
                .collect();
            while !requests.is_empty() {
                let out = client
                    .batch_write_item()
                    .request_items(table, requests)
                    .send()
                    .await
                    .expect("batch write");
                requests = out
                    .unprocessed_items
                    .and_then(|mut u| u.remove(table))
                    .unwrap_or_default();
            }
        })
        .await;
}

/// Frees a player of its pending invitation (outside a measurement).
pub async fn release(client: &aws_sdk_dynamodb::Client, table: &str, user: &str) {
    client
        .update_item()
        .table_name(table)
        .set_key(Some(versus::db::key(format!("USER#{user}"), "PROFILE")))
        .update_expression("REMOVE pending_invitation_id, pending_until")
        .send()
        .await
        .expect("release");
}
