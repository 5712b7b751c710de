{#- Built on complete days (macros/periods.sql); an incremental run replaces whole days. -#}
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='snapshot_date', schema='marts') }}

-- Per complete UTC day, channel, game and language: what the channel streamed of the
-- game in that language. The rankings of games and languages count their unique
-- channels here, and game_saturation_daily its channels' audiences. A broadcast counts
-- once, on the day of its first snapshot, for the game and language it started in
-- (streamer rankings count it on the same day: agg_streamer_daily).
with
{{ complete_days_plan('fact_stream_snapshots', 'snapshot_date') }},

started as (
    -- The broadcasts first seen on the days built.
    select stream_id, first_seen_at from {{ ref('fct_broadcasts') }}
    where first_seen_at >= cast({{ rebuild_bound() }} as timestamp)
)

select
    cast(snapshots.snapshot_date as varchar) || '@' || snapshots.user_id
        || '@' || coalesce(snapshots.game_id, '') || '@' || coalesce(snapshots.language, '') as channel_day_key,
    snapshots.snapshot_date,
    snapshots.user_id,
    snapshots.game_id,
    snapshots.language,
    sum(snapshots.viewer_count) as viewer_total,
    count(*) as snapshots,
    max(snapshots.viewer_count) as peak_viewers,
    count(started.stream_id) as broadcasts,
    max(snapshots.loaded_at) as loaded_at,
    max(snapshots.staged_at) as staged_at
from {{ ref('fact_stream_snapshots') }} as snapshots
left join started
    on started.stream_id = snapshots.stream_id and started.first_seen_at = snapshots.snapshot_at
where {{ complete_days_to_build('snapshots.snapshot_date') }}
group by snapshots.snapshot_date, snapshots.user_id, snapshots.game_id, snapshots.language
