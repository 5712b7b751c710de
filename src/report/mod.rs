//! `report`: what a person wants to see after a run: terminal tables ([`terminal`])
//! and a self-contained HTML page with charts ([`html`]).
//!
//! Everything covers the last 24 hours of data (up to the newest snapshot, not the
//! wall clock, so an old lake still reports), read from the marts the transform built;
//! with the lake, a pipeline-health section ([`Health`]) comes first.

mod settings;
pub use settings::ReportArgs;

mod health;
pub mod html;
pub mod numbers;
pub mod site;
pub mod terminal;

pub use health::Health;

use crate::lake::SLOT_MINUTES;
use crate::transform::Marts;
use crate::warehouse::{Table, Warehouse, WarehouseError};

/// One titled table of the report.
#[derive(Debug, Clone)]
pub struct Section {
    pub title: String,
    pub table: Table,
}

/// The report's figures, all from the marts.
#[derive(Debug, Clone)]
pub struct Report {
    /// Overview, top streamers, top games, top languages, then this week's top
    /// streamers and games with their rank change, in that order.
    pub sections: Vec<Section>,
    /// Per slot: `slot`, concurrent `viewers`, live `channels`.
    pub timeline: Table,
    /// Per language: `language`, `hours_watched`, `share` (0 to 1) of all hours watched.
    pub languages: Table,
    /// The pipeline's health over the window, when the lake was given to check.
    pub health: Option<Health>,
}

/// The last 24 hours of the snapshot fact, `fact`.
fn recent(fact: &str) -> String {
    format!(
        "with newest as (select max(snapshot_at) as snapshot_at from {fact}),
recent as (
    select fact.* from {fact} as fact, newest
    where fact.snapshot_at > newest.snapshot_at - interval '24 hours'
)"
    )
}

/// Runs the report's queries on the relations the transform built for its target.
pub async fn build<W: Warehouse>(warehouse: &mut W, marts: &Marts, top: usize) -> Result<Report, WarehouseError> {
    let interval = SLOT_MINUTES as f64 / 60.0;
    let recent = recent(&marts.fact_stream_snapshots);
    let recent = recent.as_str();
    let overview = format!(
        "{recent}
        select
            cast(min(snapshot_at) as varchar) as first_slot,
            cast(max(snapshot_at) as varchar) as last_slot,
            count(distinct snapshot_at) as slots,
            count(distinct user_id) as streamers,
            count(distinct stream_id) as broadcasts,
            round(cast(sum(viewer_count) as double) * {interval}, 0) as hours_watched,
            (select max(viewers) from (select sum(viewer_count) as viewers from recent group by snapshot_at) as s) as peak_concurrent_viewers
        from recent"
    );
    let streamers = format!(
        "{recent}
        select
            coalesce(dim.display_name, recent.user_id) as streamer,
            round(cast(sum(recent.viewer_count) as double) * {interval}, 1) as hours_watched,
            round(cast(count(*) as double) * {interval}, 2) as hours_streamed,
            round(cast(sum(recent.viewer_count) as double) / count(*), 0) as avg_viewers,
            max(recent.viewer_count) as peak_viewers
        from recent
        left join {dim_streamers} as dim on dim.user_id = recent.user_id
        group by recent.user_id, dim.display_name
        order by hours_watched desc, streamer
        limit {top}",
        dim_streamers = marts.dim_streamers
    );
    let games = audience_sql(
        recent,
        "coalesce(dim.game_name, recent.game_id, '(no category)')",
        &format!("left join {} as dim on dim.game_id = recent.game_id", marts.dim_games),
        "game",
        top,
    );
    let languages = audience_sql(recent, "recent.language", "", "language", top);
    let timeline = format!(
        "{recent}
        select cast(snapshot_at as varchar) as slot, sum(viewer_count) as viewers, count(*) as channels
        from recent group by snapshot_at order by snapshot_at"
    );
    let language_share = format!(
        "{recent}
        select
            language,
            round(cast(sum(viewer_count) as double) * {interval}, 1) as hours_watched,
            cast(sum(viewer_count) as double) / (select sum(viewer_count) from recent) as share
        from recent group by language order by hours_watched desc, language"
    );
    let mut sections = Vec::new();
    for (title, sql) in [
        ("Last 24 hours".to_string(), overview),
        (format!("Top {top} streamers by hours watched"), streamers),
        (format!("Top {top} games by hours watched"), games),
        (format!("Top {top} languages by hours watched"), languages),
        (
            format!("Top {top} streamers this week (ISO week, complete days), rank change since last week"),
            weekly_top_sql(
                &marts.rank_streamers,
                "user_id",
                &marts.dim_streamers,
                "display_name",
                "streamer",
                top,
            ),
        ),
        (
            format!("Top {top} games this week (ISO week, complete days), rank change since last week"),
            weekly_top_sql(&marts.rank_games, "game_id", &marts.dim_games, "game_name", "game", top),
        ),
    ] {
        sections.push(Section {
            title,
            table: warehouse.query(&sql).await?,
        });
    }
    Ok(Report {
        sections,
        timeline: warehouse.query(&timeline).await?,
        languages: warehouse.query(&language_share).await?,
        health: None,
    })
}

/// The change of rank of a ranking's row `alias` since the period before, as text:
/// "new" for a member that had no rank then, "+3" for three places up, "-2" for two
/// down, "=" for none.
pub(crate) fn rank_change_sql(alias: &str) -> String {
    format!(
        "case
            when {alias}.previous_rank is null then 'new'
            when {alias}.previous_rank > {alias}.rank then '+' || cast({alias}.previous_rank - {alias}.rank as varchar)
            when {alias}.previous_rank < {alias}.rank then '-' || cast({alias}.rank - {alias}.previous_rank as varchar)
            else '='
        end"
    )
}

/// The latest week's top members of a ranking (`rank_streamers`, `rank_games`), named
/// from their dimension, with the change of rank since the week before.
fn weekly_top_sql(ranking: &str, key: &str, dimension: &str, label: &str, name: &str, top: usize) -> String {
    let rank_change = rank_change_sql("ranked");
    format!(
        "with latest as (select max(period_start) as period_start from {ranking} where period_kind = 'week')
        select
            cast(ranked.period_start as varchar) as week,
            ranked.rank,
            {rank_change} as rank_change,
            coalesce(dim.{label}, ranked.{key}) as {name},
            round(ranked.hours_watched, 0) as hours_watched,
            round(ranked.avg_viewers, 0) as avg_viewers,
            ranked.peak_viewers,
            round(ranked.growth_pct, 1) as growth_pct
        from {ranking} as ranked
        join latest on ranked.period_start = latest.period_start
        left join {dimension} as dim on dim.{key} = ranked.{key}
        where ranked.period_kind = 'week'
        order by ranked.rank, {name}
        limit {top}"
    )
}

/// Audience of a dimension over the window, TwitchTracker-style: averages over every
/// slot of the window, peaks of per-slot totals.
fn audience_sql(recent: &str, label: &str, join: &str, name: &str, top: usize) -> String {
    let interval = SLOT_MINUTES as f64 / 60.0;
    format!(
        "{recent},
        per_slot as (
            select {label} as {name}, recent.snapshot_at, sum(recent.viewer_count) as viewers, count(*) as channels
            from recent {join}
            group by {label}, recent.snapshot_at
        ),
        slots as (select count(distinct snapshot_at) as n from recent)
        select
            {name},
            round(cast(sum(viewers) as double) * {interval}, 1) as hours_watched,
            round(cast(sum(viewers) as double) / slots.n, 0) as avg_viewers,
            max(viewers) as peak_viewers,
            round(cast(sum(channels) as double) / slots.n, 1) as avg_channels,
            round(cast(sum(viewers) as double) / sum(channels), 1) as viewer_ratio
        from per_slot, slots
        group by {name}, slots.n
        order by hours_watched desc, {name}
        limit {top}"
    )
}
