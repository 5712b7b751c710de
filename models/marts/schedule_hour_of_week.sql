{#- Built on complete days (macros/periods.sql): the one window, replaced whole (its
    key, window_days, is the same on every row) when the last complete day moves or a
    late slot changes a day. -#}
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='window_days', schema='marts') }}

-- When channels stream, per hour of the week (UTC; 0 is Monday 00:00), over the 28
-- complete days to the last one: four of each hour of the week.
-- - Per streamer (`scope` 'streamer'), for the `schedule_channels` (a project var,
--   10,000) most watched channels of those days: its hours live in that hour of the
--   week, on how many of the 28 days it was live then, and its average viewers while
--   live. Not every channel: at the full catalog the whole window is 270M snapshots,
--   and reading them for every channel each day grew this model by 3.5 s per day of
--   history (17.6 s at 5 days, measured with the scale bench); the most watched
--   channels' rows are a small part of them.
-- - For the platform (`scope` 'platform', no user_id): the channel-hours streamed,
--   and the average concurrent channels and viewers over the slots observed then.
with
{{ complete_days_plan('fact_stream_snapshots', 'window_end') }},

top_channels as (
    select user_id
    from {{ ref('agg_streamer_daily') }}
    where snapshot_date >= {{ window_bound(28) }} and snapshot_date <= (select through from plan)
    group by user_id
    order by sum(hours_watched) desc, user_id
    limit {{ var('schedule_channels') }}
),

-- In two steps, so that nothing counts distinct values per group (measured at the full
-- catalog, a day of history: count(distinct snapshot_date) per streamer and hour took
-- this model 10 s): first per streamer, day and hour of the day, then per hour of the
-- week; the platform per slot first.
per_hour as (
    select
        user_id,
        {{ hour_of_week('snapshot_at') }} as hour_of_week,
        count(*) as snapshots,
        sum(viewer_count) as viewer_total,
        max(loaded_at) as loaded_at,
        max(staged_at) as staged_at
    from {{ ref('fact_stream_snapshots') }}
    where snapshot_date >= {{ window_bound(28) }} and snapshot_date <= (select through from plan)
        and user_id in (select user_id from top_channels)
    group by user_id, snapshot_date, {{ hour_of_week('snapshot_at') }}
),

per_slot as (
    select
        snapshot_date,
        {{ hour_of_week('snapshot_at') }} as hour_of_week,
        count(*) as channels,
        sum(viewer_count) as viewers,
        max(loaded_at) as loaded_at,
        max(staged_at) as staged_at
    from {{ ref('fact_stream_snapshots') }}
    where snapshot_date >= {{ window_bound(28) }} and snapshot_date <= (select through from plan)
    group by snapshot_date, snapshot_at
),

streamers as (
    select
        'streamer' as scope,
        user_id,
        hour_of_week,
        sum(snapshots) as snapshots,
        -- One row per day the streamer was live in that hour.
        count(*) as days_live,
        cast(sum(viewer_total) as double) / sum(snapshots) as avg_viewers,
        cast(null as double) as avg_channels,
        max(loaded_at) as loaded_at,
        max(staged_at) as staged_at
    from per_hour
    group by user_id, hour_of_week
),

platform as (
    select
        'platform' as scope,
        cast(null as varchar) as user_id,
        hour_of_week,
        sum(channels) as snapshots,
        -- Distinct over a few slots, not over the fact's rows.
        count(distinct snapshot_date) as days_live,
        cast(sum(viewers) as double) / count(*) as avg_viewers,
        cast(sum(channels) as double) / count(*) as avg_channels,
        max(loaded_at) as loaded_at,
        max(staged_at) as staged_at
    from per_slot
    group by hour_of_week
),

hours as (
    select * from streamers
    union all
    select * from platform
)

select
    28 as window_days,
    {{ add_days('plan.through', -27) }} as window_start,
    plan.through as window_end,
    hours.scope,
    hours.user_id,
    hours.hour_of_week,
    {{ hours('hours.snapshots') }} as hours_live,
    hours.days_live,
    hours.avg_viewers,
    hours.avg_channels,
    hours.loaded_at,
    hours.staged_at
from hours
cross join plan
