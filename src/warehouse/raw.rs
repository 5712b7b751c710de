//! The raw layer both warehouses share (the warehouse contract of the design): one
//! table per entity, each row with its file's name and load time; and what the
//! pipeline asks of it.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::{Table, Warehouse, WarehouseError};
use crate::lake::{Entity, lake_path};

/// Schema of the raw tables and the load bookkeeping.
pub const RAW_SCHEMA: &str = "raw";

/// The raw table of an entity: `RAW_STREAMS`, `RAW_USERS`, `RAW_GAMES`.
pub fn raw_table(entity: Entity) -> &'static str {
    match entity {
        Entity::Streams => "raw_streams",
        Entity::Users => "raw_users",
        Entity::Games => "raw_games",
    }
}

/// RAW's rows per file loaded from `since` on, by lake path (whatever prefix the
/// loader's file names carry: see `lake_path`): what `status` counts against the
/// manifests, and the ledger a backfill checks before it submits a file again.
pub async fn raw_rows_by_file<W: Warehouse>(
    warehouse: &mut W,
    since: DateTime<Utc>,
) -> Result<HashMap<String, u64>, WarehouseError> {
    let since = loaded_since(since);
    let mut raw = HashMap::new();
    for entity in Entity::ALL {
        let table = warehouse
            .query(&format!(
                "select file_name, count(*) from raw.{} where loaded_at >= {since} group by file_name",
                raw_table(entity)
            ))
            .await?;
        for (file, n) in key_counts(&table) {
            *raw.entry(lake_path(file).to_string()).or_insert(0) += n;
        }
    }
    Ok(raw)
}

/// The bound on `loaded_at` for data loaded from `time` on: a slot's files are loaded
/// after the slot began, so the warehouse skips older data unread.
pub fn loaded_since(time: DateTime<Utc>) -> String {
    format!("cast('{}' as timestamp)", time.format("%Y-%m-%d %H:%M:%S"))
}

/// (text, count) pairs of a two-column result.
pub fn key_counts(table: &Table) -> impl Iterator<Item = (&str, u64)> {
    table.rows.iter().filter_map(|row| {
        let key = row.first()?.as_deref()?;
        let count = row.get(1)?.as_deref()?.parse::<f64>().ok()? as u64;
        Some((key, count))
    })
}
