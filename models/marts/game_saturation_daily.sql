{#- Built on complete days (macros/periods.sql); an incremental run replaces whole days. -#}
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='snapshot_date', schema='marts') }}

-- How crowded each game is, per complete UTC day, as a streamer picking a category
-- asks: its live channels, the average viewers of a channel live in it (viewers
-- per channel over the day's slots, the trackers' "viewer ratio"), the same without
-- its top 5% of channels by hours watched (floor(5% of the channels): under 20
-- channels none is left out), and the share of its channels averaging under 5
-- viewers while in it.
with
{{ complete_days_plan('agg_channel_game_daily', 'snapshot_date') }},

channels as (
    select
        snapshot_date,
        game_id,
        user_id,
        sum(viewer_total) as viewer_total,
        sum(snapshots) as snapshots,
        max(loaded_at) as loaded_at,
        max(staged_at) as staged_at
    from {{ ref('agg_channel_game_daily') }}
    where game_id is not null and {{ complete_days_to_build() }}
    group by snapshot_date, game_id, user_id
),

ranked as (
    select
        channels.*,
        row_number() over (partition by snapshot_date, game_id order by viewer_total desc, user_id) as position,
        count(*) over (partition by snapshot_date, game_id) as live_channels
    from channels
)

select
    {{ day_key('game_id') }} as day_key,
    game_id,
    snapshot_date,
    max(live_channels) as live_channels,
    cast(sum(viewer_total) as double) / sum(snapshots) as avg_viewers_per_channel,
    cast(sum(case when position > floor(live_channels * 0.05) then viewer_total end) as double)
        / sum(case when position > floor(live_channels * 0.05) then snapshots end) as avg_viewers_per_channel_without_top_5pct,
    cast(sum(case when viewer_total < 5 * snapshots then 1 else 0 end) as double) / max(live_channels) as under_5_viewers_share,
    max(loaded_at) as loaded_at,
    max(staged_at) as staged_at
from ranked
group by game_id, snapshot_date
