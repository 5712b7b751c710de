//! What the site shows, read from the marts in a few queries: the rankings first,
//! then, for every channel and game they name, its days, weekly ranks and hours of
//! the week, read for all of them at once.

use std::collections::{BTreeMap, BTreeSet};

use crate::transform::{Marts, TransformError};
use crate::warehouse::{Dialect, Table, Warehouse, WarehouseError};

/// The site's figures.
pub struct SiteData {
    /// Per ranking (streamers, games, languages): the latest period of each kind,
    /// its top rows.
    pub rankings: Vec<Ranking>,
    /// platform_daily, by day.
    pub platform: Table,
    /// concentration_daily, by day.
    pub concentration: Table,
    /// The platform's average concurrent viewers and channels per hour of the week.
    pub platform_week: Table,
    pub channels: Vec<Member>,
    pub games: Vec<Member>,
}

/// One ranking's latest periods.
pub struct Ranking {
    /// "streamers", "games", "languages".
    pub what: &'static str,
    /// The column the member's name is in, and the one its id is in.
    pub name_column: &'static str,
    pub id_column: &'static str,
    /// Rows of every kind (`period_kind`), best rank first.
    pub table: Table,
}

/// A channel or game with a page.
pub struct Member {
    pub id: String,
    pub name: String,
    /// Facts about it (measure, value): its profile, its last 30 days.
    pub facts: Vec<(String, String)>,
    /// Per day: date, then the measures in `days.columns`.
    pub days: Table,
    /// Per week: `period_start`, `rank`, `hours_watched`.
    pub weekly_ranks: Table,
    /// Per hour of the week (0 Monday 00:00 UTC): its average viewers while live.
    pub hours_of_week: BTreeMap<i64, f64>,
}

impl SiteData {
    pub async fn read<W: Warehouse>(
        warehouse: &mut W,
        marts: &Marts,
        top: usize,
    ) -> Result<SiteData, super::SiteError> {
        let rel = |name: &str| -> Result<String, TransformError> { marts.relation(name).map(str::to_string) };
        let rankings = vec![
            Ranking {
                what: "streamers",
                name_column: "streamer",
                id_column: "user_id",
                table: warehouse
                    .query(&ranking_sql(
                        &marts.rank_streamers,
                        "user_id",
                        Some((&marts.dim_streamers, "display_name")),
                        "streamer",
                        false,
                        top,
                    ))
                    .await?,
            },
            Ranking {
                what: "games",
                name_column: "game",
                id_column: "game_id",
                table: warehouse
                    .query(&ranking_sql(
                        &marts.rank_games,
                        "game_id",
                        Some((&marts.dim_games, "game_name")),
                        "game",
                        true,
                        top,
                    ))
                    .await?,
            },
            Ranking {
                what: "languages",
                name_column: "language_name",
                id_column: "language",
                table: warehouse
                    .query(&ranking_sql(
                        &rel("rank_languages")?,
                        "language",
                        None,
                        "language_name",
                        true,
                        top,
                    ))
                    .await?,
            },
        ];
        let platform = warehouse
            .query(&format!(
                "select cast(snapshot_date as varchar) as day, channels_live, hours_watched, avg_viewers, peak_viewers, \
                 avg_channels, peak_channels, broadcasts, new_channels from {} order by snapshot_date",
                rel("platform_daily")?
            ))
            .await?;
        let concentration = warehouse
            .query(&format!(
                "select cast(snapshot_date as varchar) as day, channels, top_100_share, top_1000_share, top_10000_share, gini \
                 from {} order by snapshot_date",
                rel("concentration_daily")?
            ))
            .await?;
        let schedule = rel("schedule_hour_of_week")?;
        let platform_week = warehouse
            .query(&format!(
                "select hour_of_week, avg_viewers, avg_channels from {schedule} where scope = 'platform' order by hour_of_week"
            ))
            .await?;

        let named = |what: &str| -> Vec<(String, String)> {
            let mut seen = BTreeSet::new();
            let ranking = rankings.iter().find(|r| r.what == what).expect("a ranking of each");
            let (id, name) = (
                ranking.table.column(ranking.id_column),
                ranking.table.column(ranking.name_column),
            );
            ranking
                .table
                .rows
                .iter()
                .filter_map(|row| Some((cell(row, id?)?, cell(row, name?).unwrap_or_default())))
                .filter(|(id, _)| seen.insert(id.clone()))
                .collect()
        };
        let channels = members(
            warehouse,
            named("streamers"),
            &MemberQueries {
                profile: format!(
                    "select user_id as id, login, broadcaster_type, cast(first_seen_at as varchar) as first_seen, \
                     cast(last_seen_at as varchar) as last_seen from {} where user_id in ({{ids}})",
                    marts.dim_streamers
                ),
                last_30_days: Some(format!(
                    "select user_id as id, days_live, broadcasts, round(avg_broadcast_hours, 1) as avg_broadcast_hours, \
                     hours_watched, avg_viewers from {} where user_id in ({{ids}})",
                    rel("streamer_last_30_days")?
                )),
                days: format!(
                    "select user_id as id, cast(snapshot_date as varchar) as day, hours_watched, hours_streamed, avg_viewers, \
                     peak_viewers, broadcasts from {} where user_id in ({{ids}}) order by snapshot_date",
                    rel("agg_streamer_daily")?
                ),
                ranks: format!(
                    "select user_id as id, cast(period_start as varchar) as week, rank, hours_watched from {} \
                     where period_kind = 'week' and user_id in ({{ids}}) order by period_start",
                    marts.rank_streamers
                ),
                hours: format!(
                    "select user_id as id, hour_of_week, avg_viewers from {schedule} \
                     where scope = 'streamer' and user_id in ({{ids}})"
                ),
            },
        )
        .await?;
        let fact = &marts.fact_stream_snapshots;
        let hour_of_week = match warehouse.dialect() {
            Dialect::Snowflake => "(dayofweekiso(snapshot_at) - 1) * 24 + hour(snapshot_at)",
            Dialect::DuckDb => "(isodow(snapshot_at) - 1) * 24 + hour(snapshot_at)",
        };
        let games = members(
            warehouse,
            named("games"),
            &MemberQueries {
                profile: format!("select game_id as id from {} where game_id in ({{ids}})", marts.dim_games),
                last_30_days: None,
                days: format!(
                    "select daily.game_id as id, cast(daily.snapshot_date as varchar) as day, daily.hours_watched, \
                     daily.avg_viewers, daily.peak_viewers, daily.avg_channels, saturation.avg_viewers_per_channel_without_top_5pct, \
                     saturation.under_5_viewers_share from {} as daily left join {} as saturation \
                     on saturation.game_id = daily.game_id and saturation.snapshot_date = daily.snapshot_date \
                     where daily.game_id in ({{ids}}) order by daily.snapshot_date",
                    rel("agg_game_daily")?,
                    rel("game_saturation_daily")?
                ),
                ranks: format!(
                    "select game_id as id, cast(period_start as varchar) as week, rank, hours_watched from {} \
                     where period_kind = 'week' and game_id in ({{ids}}) order by period_start",
                    marts.rank_games
                ),
                // A game's hours of the week, over the 28 days to the newest snapshot's:
                // its average viewers in the slots it was live.
                hours: format!(
                    "select game_id as id, {hour_of_week} as hour_of_week, \
                     cast(sum(viewer_count) as double) / count(distinct snapshot_at) as avg_viewers \
                     from {fact} where game_id in ({{ids}}) \
                     and snapshot_at > (select max(snapshot_at) from {fact}) - interval '28 days' \
                     group by game_id, {hour_of_week}"
                ),
            },
        )
        .await?;
        Ok(SiteData {
            rankings,
            platform,
            concentration,
            platform_week,
            channels,
            games,
        })
    }
}

/// The latest period of each kind of a ranking, its `top` rows, with the member's
/// name (from its dimension, when it has one) and the change of rank.
fn ranking_sql(
    ranking: &str,
    key: &str,
    dimension: Option<(&str, &str)>,
    name: &str,
    audience: bool,
    top: usize,
) -> String {
    let (label, join) = match dimension {
        Some((dimension, label)) => (
            format!("coalesce(dim.{label}, ranked.{key})"),
            format!("left join {dimension} as dim on dim.{key} = ranked.{key}"),
        ),
        None => (format!("ranked.{key}"), String::new()),
    };
    let rank_change = crate::report::rank_change_sql("ranked");
    let channels = if audience { "ranked.unique_channels," } else { "" };
    format!(
        "with latest as (select period_kind, max(period_start) as period_start from {ranking} group by period_kind)
        select
            ranked.period_kind,
            cast(ranked.period_start as varchar) as period_start,
            cast(ranked.period_end as varchar) as period_end,
            ranked.rank,
            {rank_change} as rank_change,
            {label} as {name},
            ranked.{key},
            round(ranked.hours_watched, 0) as hours_watched,
            round(ranked.avg_viewers, 0) as avg_viewers,
            ranked.peak_viewers,
            ranked.broadcasts,
            {channels}
            round(ranked.growth_pct, 1) as growth_pct
        from {ranking} as ranked
        join latest on latest.period_kind = ranked.period_kind and latest.period_start = ranked.period_start
        {join}
        where ranked.rank <= {top}
        order by ranked.period_kind, ranked.rank, {name}"
    )
}

/// The queries of a member's page; `{ids}` stands for the quoted ids, and each
/// query's first column, `id`, says whose row it is.
struct MemberQueries {
    profile: String,
    last_30_days: Option<String>,
    days: String,
    ranks: String,
    hours: String,
}

async fn members<W: Warehouse>(
    warehouse: &mut W,
    named: Vec<(String, String)>,
    queries: &MemberQueries,
) -> Result<Vec<Member>, WarehouseError> {
    if named.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<String> = named
        .iter()
        .map(|(id, _)| format!("'{}'", id.replace('\'', "''")))
        .collect();
    let ids = ids.join(", ");
    let profile = by_id(warehouse.query(&queries.profile.replace("{ids}", &ids)).await?);
    let last_30_days = match &queries.last_30_days {
        Some(sql) => by_id(warehouse.query(&sql.replace("{ids}", &ids)).await?),
        None => BTreeMap::new(),
    };
    let days = by_id(warehouse.query(&queries.days.replace("{ids}", &ids)).await?);
    let ranks = by_id(warehouse.query(&queries.ranks.replace("{ids}", &ids)).await?);
    let hours = by_id(warehouse.query(&queries.hours.replace("{ids}", &ids)).await?);
    Ok(named
        .into_iter()
        .map(|(id, name)| {
            let mut facts = Vec::new();
            for (table, heading) in [(&profile, ""), (&last_30_days, "last 30 days: ")] {
                if let Some(table) = table.get(&id)
                    && let Some(row) = table.rows.first()
                {
                    for (column, value) in table.columns.iter().zip(row) {
                        facts.push((
                            format!("{heading}{}", column.replace('_', " ")),
                            value.clone().unwrap_or_default(),
                        ));
                    }
                }
            }
            let hours_of_week = hours.get(&id).map_or_else(BTreeMap::new, |table| {
                table
                    .rows
                    .iter()
                    .filter_map(|row| Some((cell(row, 0)?.parse().ok()?, cell(row, 1)?.parse().ok()?)))
                    .collect()
            });
            let empty = |columns: &[&str]| Table {
                columns: columns.iter().map(|c| c.to_string()).collect(),
                rows: Vec::new(),
            };
            Member {
                days: days.get(&id).cloned().unwrap_or_else(|| empty(&["day"])),
                weekly_ranks: ranks
                    .get(&id)
                    .cloned()
                    .unwrap_or_else(|| empty(&["week", "rank", "hours_watched"])),
                hours_of_week,
                facts,
                id,
                name,
            }
        })
        .collect())
}

/// A table whose first column is `id`, split by id, without that column.
fn by_id(table: Table) -> BTreeMap<String, Table> {
    let columns: Vec<String> = table.columns.iter().skip(1).cloned().collect();
    let mut split: BTreeMap<String, Table> = BTreeMap::new();
    for row in table.rows {
        let id = cell(&row, 0).unwrap_or_default();
        split
            .entry(id)
            .or_insert_with(|| Table {
                columns: columns.clone(),
                rows: Vec::new(),
            })
            .rows
            .push(row.into_iter().skip(1).collect());
    }
    split
}

fn cell(row: &[Option<String>], index: usize) -> Option<String> {
    row.get(index).cloned().flatten()
}
