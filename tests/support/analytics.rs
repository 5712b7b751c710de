//! The analytics on complete days (models/macros/periods.sql), worked out by hand on a
//! small world: the world, and each query with the rows it must give, the same on
//! DuckDB (tests/transform.rs) and on Snowflake SQL (tests/snowflake_sql.rs).

use super::fixture::stream;
use super::rows;
use twitch_pipeline::lake::Slot;
use twitch_pipeline::warehouse::Warehouse;

/// `stream(…)` that Helix says started at `started_at` (RFC 3339).
pub fn stream_started(line: String, started_at: &str) -> String {
    line.replace("2026-11-23T19:00:00Z", started_at)
}

/// The small world the analytics models are worked out by hand on (`expected` holds
/// the arithmetic): five slots across a week's end and a month's end, a
/// broadcast across midnight, a streamer and a game new in the second week, two
/// streamers and two games tied in it, and a crowd of 20 small channels in a third
/// game. Slots in time order; the last one only completes the day before it.
pub fn analytics_world() -> Vec<(Slot, Vec<String>)> {
    let at = |text: &str| -> Slot { text.parse().unwrap() };
    let (s1, s2, s3, s4, s5) = (
        at("2026-11-29T23:45:00Z"),
        at("2026-11-30T00:00:00Z"),
        at("2026-11-30T12:00:00Z"),
        at("2026-12-01T12:00:00Z"),
        at("2026-12-02T00:00:00Z"),
    );
    let (u1, u2, u3) = (("u1", "alice"), ("u2", "bob"), ("u3", "carol"));
    let (g1, g2, g3) = (("g1", "Game One"), ("g2", "Game Two"), ("g3", "Game Three"));
    let a1 = |slot, viewers| stream_started(stream(slot, "A1", u1, g1, "en", viewers), "2026-11-29T23:30:00Z");
    let b1 = |slot| stream(slot, "B1", u2, g1, "en", 40);
    let crowd: Vec<String> = (1..=20)
        .map(|n| {
            let id = format!("u{}", 9 + n);
            let login = format!("small{n}");
            stream(s3, &format!("D{n}"), (&id, &login), g3, "fr", n)
        })
        .collect();
    vec![
        (s1, vec![a1(s1, 100), b1(s1)]),
        (s2, vec![a1(s2, 100), b1(s2)]),
        (s3, [vec![stream(s3, "C1", u3, g2, "de", 60)], crowd].concat()),
        (
            s4,
            vec![
                stream_started(stream(s4, "A2", u1, g2, "en", 20), "2026-12-01T11:00:00Z"),
                stream(s4, "C2", u3, g2, "de", 60),
            ],
        ),
        (s5, vec![stream(s5, "A3", u1, g1, "en", 10)]),
    ]
}

/// The Gini coefficient by its definition, the mean absolute difference over twice
/// the mean (not the rank formula the model uses).
pub fn gini(values: &[f64]) -> f64 {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let differences: f64 = values
        .iter()
        .flat_map(|a| values.iter().map(move |b| (a - b).abs()))
        .sum();
    differences / (2.0 * n * n * mean)
}

/// The hours each channel was watched on 30 November: alice 25, bob 10, carol 15 and
/// the crowd 1/4 to 20/4.
fn hours_watched_on_november_30() -> Vec<f64> {
    [25.0, 10.0, 15.0]
        .into_iter()
        .chain((1..=20).map(|n| f64::from(n) / 4.0))
        .collect()
}

/// Asserts every query of `expected` on the marts in schema `marts`, and 30
/// November's Gini coefficient against its definition.
pub async fn assert_expected<W: Warehouse>(warehouse: &mut W, marts: &str) {
    for (query, expected) in expected(marts) {
        assert_eq!(rows(warehouse, &query).await, expected, "{query}");
    }
    let [gini] = rows(
        warehouse,
        &format!("select gini from {marts}.concentration_daily where snapshot_date = '2026-11-30'"),
    )
    .await
    .remove(0)
    .try_into()
    .unwrap();
    let by_definition = self::gini(&hours_watched_on_november_30());
    assert!(
        (gini.parse::<f64>().unwrap() - by_definition).abs() < 1e-6,
        "30 Nov: {gini} against {by_definition}"
    );
}

/// Each query on the marts in schema `marts` with the rows it gives once
/// `analytics_world` is transformed: the last complete day is 1 December (2 December
/// has begun); weeks of 23 and 30 November, months November and December.
pub fn expected(marts: &str) -> Vec<(String, Vec<Vec<&'static str>>)> {
    let ranks = |table: &str, member: &str, kind: &str, start: &str, top: i64| {
        format!(
            "select {member}, hours_watched, hours_streamed, avg_viewers, peak_viewers, broadcasts, rank, \
             previous_rank, previous_hours_watched, growth_pct, cast(period_end as varchar), period_complete \
             from {marts}.{table} where period_kind = '{kind}' and period_start = '{start}' and rank <= {top} \
             order by rank, {member}"
        )
    };
    let games = |kind: &str, start: &str| {
        format!(
            "select game_id, hours_watched, hours_streamed, avg_viewers, peak_viewers, broadcasts, unique_channels, \
             rank, previous_rank, previous_hours_watched, growth_pct from {marts}.rank_games \
             where period_kind = '{kind}' and period_start = '{start}' order by rank, game_id"
        )
    };
    vec![
        // Streamers, week of 30 Nov (to 1 Dec): alice 25 (A1 at 00:00, 100 viewers) + 5
        // (A2, 20) and carol 15 + 15 tie at 30 hours, so bob's 10 ranks 3rd. A1 began
        // on the 29th: its broadcast counts in the week before. Carol is new: no
        // previous rank.
        (
            ranks("rank_streamers", "user_id", "week", "2026-11-30", 3),
            vec![
                vec![
                    "u1",
                    "30",
                    "0.5",
                    "60",
                    "100",
                    "1",
                    "1",
                    "1",
                    "25",
                    "20",
                    "2026-12-01",
                    "false",
                ],
                vec![
                    "u3",
                    "30",
                    "0.5",
                    "60",
                    "60",
                    "2",
                    "1",
                    "NULL",
                    "NULL",
                    "NULL",
                    "2026-12-01",
                    "false",
                ],
                vec![
                    "u2",
                    "10",
                    "0.25",
                    "40",
                    "40",
                    "0",
                    "3",
                    "2",
                    "10",
                    "0",
                    "2026-12-01",
                    "false",
                ],
            ],
        ),
        (
            ranks("rank_streamers", "user_id", "week", "2026-11-23", 9),
            vec![
                vec![
                    "u1",
                    "25",
                    "0.25",
                    "100",
                    "100",
                    "1",
                    "1",
                    "NULL",
                    "NULL",
                    "NULL",
                    "2026-11-29",
                    "true",
                ],
                vec![
                    "u2",
                    "10",
                    "0.25",
                    "40",
                    "40",
                    "1",
                    "2",
                    "NULL",
                    "NULL",
                    "NULL",
                    "2026-11-29",
                    "true",
                ],
            ],
        ),
        // November is over (complete); December so far is its first day, where carol
        // leads and alice falls from 50 hours to 5.
        (
            ranks("rank_streamers", "user_id", "month", "2026-11-01", 3),
            vec![
                vec![
                    "u1",
                    "50",
                    "0.5",
                    "100",
                    "100",
                    "1",
                    "1",
                    "NULL",
                    "NULL",
                    "NULL",
                    "2026-11-30",
                    "true",
                ],
                vec![
                    "u2",
                    "20",
                    "0.5",
                    "40",
                    "40",
                    "1",
                    "2",
                    "NULL",
                    "NULL",
                    "NULL",
                    "2026-11-30",
                    "true",
                ],
                vec![
                    "u3",
                    "15",
                    "0.25",
                    "60",
                    "60",
                    "1",
                    "3",
                    "NULL",
                    "NULL",
                    "NULL",
                    "2026-11-30",
                    "true",
                ],
            ],
        ),
        (
            ranks("rank_streamers", "user_id", "month", "2026-12-01", 3),
            vec![
                vec![
                    "u3",
                    "15",
                    "0.25",
                    "60",
                    "60",
                    "1",
                    "1",
                    "3",
                    "15",
                    "0",
                    "2026-12-01",
                    "false",
                ],
                vec![
                    "u1",
                    "5",
                    "0.25",
                    "20",
                    "20",
                    "1",
                    "2",
                    "1",
                    "50",
                    "-90",
                    "2026-12-01",
                    "false",
                ],
            ],
        ),
        // The rolling 7 days end on the last complete day: 25 Nov to 1 Dec.
        (
            ranks("rank_streamers", "user_id", "7d", "2026-11-25", 3),
            vec![
                vec![
                    "u1",
                    "55",
                    "0.75",
                    "73.33333333333333",
                    "100",
                    "2",
                    "1",
                    "NULL",
                    "NULL",
                    "NULL",
                    "2026-12-01",
                    "true",
                ],
                vec![
                    "u3",
                    "30",
                    "0.5",
                    "60",
                    "60",
                    "2",
                    "2",
                    "NULL",
                    "NULL",
                    "NULL",
                    "2026-12-01",
                    "true",
                ],
                vec![
                    "u2",
                    "20",
                    "0.5",
                    "40",
                    "40",
                    "1",
                    "3",
                    "NULL",
                    "NULL",
                    "NULL",
                    "2026-12-01",
                    "true",
                ],
            ],
        ),
        (
            format!(
                "select period_kind, cast(period_start as varchar), count(*) from {marts}.rank_streamers \
                 group by period_kind, period_start order by period_kind, period_start"
            ),
            vec![
                vec!["30d", "2026-11-02", "23"],
                vec!["7d", "2026-11-25", "23"],
                vec!["month", "2026-11-01", "23"],
                vec!["month", "2026-12-01", "2"],
                vec!["week", "2026-11-23", "2"],
                vec!["week", "2026-11-30", "23"],
            ],
        ),
        // Games, week of 30 Nov: the crowd's Game Three (20 channels of 1 to 20 viewers
        // at noon: 52.5 hours) leads; Game One (A1 and B1 at 00:00, 140 viewers: 35) and
        // Game Two (C1 15, A2 5 and C2 15: 35) tie. Averages are over the 3 slots the
        // week observed (0.75 hours); Game Two is new in the week.
        (
            games("week", "2026-11-30"),
            vec![
                vec!["g3", "52.5", "5", "70", "210", "20", "20", "1", "NULL", "NULL", "NULL"],
                vec![
                    "g1",
                    "35",
                    "0.5",
                    "46.666666666666664",
                    "140",
                    "0",
                    "2",
                    "2",
                    "1",
                    "35",
                    "0",
                ],
                vec![
                    "g2",
                    "35",
                    "0.75",
                    "46.666666666666664",
                    "80",
                    "3",
                    "2",
                    "2",
                    "NULL",
                    "NULL",
                    "NULL",
                ],
            ],
        ),
        (
            games("week", "2026-11-23"),
            vec![vec![
                "g1", "35", "0.5", "140", "140", "2", "2", "1", "NULL", "NULL", "NULL",
            ]],
        ),
        // Languages, the same week: fr 52.5; en 35 (Game One) + 5 (A2) = 40, up from 35;
        // de 30.
        (
            format!(
                "select language, hours_watched, unique_channels, rank, previous_rank, growth_pct from {marts}.rank_languages \
                 where period_kind = 'week' and period_start = '2026-11-30' order by rank"
            ),
            vec![
                vec!["fr", "52.5", "20", "1", "NULL", "NULL"],
                vec!["en", "40", "2", "2", "1", "14.285714285714286"],
                vec!["de", "30", "1", "3", "NULL", "NULL"],
            ],
        ),
        // The platform per complete day (2 Dec has begun: not counted). 30 Nov: 00:00
        // has 140 viewers on 2 channels, noon 270 on 21; 21 broadcasts and channels new.
        (
            format!(
                "select cast(snapshot_date as varchar), slots, channels_live, hours_watched, hours_streamed, avg_viewers, \
                 peak_viewers, avg_channels, peak_channels, broadcasts, new_channels from {marts}.platform_daily order by 1"
            ),
            vec![
                vec!["2026-11-29", "1", "2", "35", "0.5", "140", "140", "2", "2", "2", "2"],
                vec![
                    "2026-11-30",
                    "2",
                    "23",
                    "102.5",
                    "5.75",
                    "205",
                    "270",
                    "11.5",
                    "21",
                    "21",
                    "21",
                ],
                vec!["2026-12-01", "1", "2", "20", "0.5", "80", "80", "2", "2", "2", "0"],
            ],
        ),
        // Concentration: 29 Nov alice 25 and bob 10 (Gini 2·60/(2·35) − 3/2 = 0.214286),
        // 1 Dec alice 5 and carol 15 (0.25). (30 Nov: gini_query, by the definition.)
        (
            format!(
                "select cast(snapshot_date as varchar), channels, hours_watched, top_100_share, gini \
                 from {marts}.concentration_daily where snapshot_date <> '2026-11-30' order by 1"
            ),
            vec![
                vec!["2026-11-29", "2", "35", "1", "0.214286"],
                vec!["2026-12-01", "2", "20", "1", "0.25"],
            ],
        ),
        // Saturation: Game Three's 20 channels average 210/20 = 10.5 viewers; without
        // its top 5% (one channel, the 20) 190/19 = 10; 4 of 20 (1 to 4 viewers) under 5.
        (
            format!(
                "select game_id, cast(snapshot_date as varchar), live_channels, avg_viewers_per_channel, \
                 avg_viewers_per_channel_without_top_5pct, under_5_viewers_share from {marts}.game_saturation_daily order by 2, 1"
            ),
            vec![
                vec!["g1", "2026-11-29", "2", "70", "70", "0"],
                vec!["g1", "2026-11-30", "2", "70", "70", "0"],
                vec!["g2", "2026-11-30", "1", "60", "60", "0"],
                vec!["g3", "2026-11-30", "20", "10.5", "10", "0.2"],
                vec!["g2", "2026-12-01", "2", "40", "40", "0"],
            ],
        ),
        // Alice's last 30 days: live on 3 of them; 0.75 hours streamed over the 2
        // broadcasts started in them (A1, A2): 0.375 hours each.
        (
            format!(
                "select cast(window_start as varchar), cast(window_end as varchar), days_live, broadcasts, \
                 avg_broadcast_hours, hours_watched, hours_streamed from {marts}.streamer_last_30_days where user_id = 'u1'"
            ),
            vec![vec!["2026-11-02", "2026-12-01", "3", "2", "0.375", "55", "0.75"]],
        ),
        // Her hours of the week: Sunday 23:45 (167), Monday 00:00 (0), Tuesday noon
        // (36); the platform's Monday noon: 21 channels, 270 viewers.
        (
            format!(
                "select scope, coalesce(user_id, '-'), hour_of_week, hours_live, days_live, avg_viewers, coalesce(avg_channels, -1) \
                 from {marts}.schedule_hour_of_week where user_id = 'u1' or (scope = 'platform' and hour_of_week in (12, 167)) \
                 order by scope, hour_of_week"
            ),
            vec![
                vec!["platform", "-", "12", "5.25", "1", "270", "21"],
                vec!["platform", "-", "167", "0.5", "1", "140", "2"],
                vec!["streamer", "u1", "0", "0.25", "1", "100", "-1"],
                vec!["streamer", "u1", "36", "0.25", "1", "20", "-1"],
                vec!["streamer", "u1", "167", "0.25", "1", "100", "-1"],
            ],
        ),
    ]
}
