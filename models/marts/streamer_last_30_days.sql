{#- Built on complete days (macros/periods.sql): the one window, replaced whole (its
    key, window_days, is the same on every row) when the last complete day moves or a
    late slot changes a day. -#}
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='window_days', schema='marts') }}

-- Each streamer live in the 30 complete days to the last one: on how many of them, the
-- broadcasts started in them (each on the day of its first snapshot), their average
-- length as hours streamed in the days per broadcast started (the trackers' average
-- stream length: stream time over streams), and the streamer's hours and average
-- viewers over those days.
--
-- All from agg_streamer_daily, the source the plan watches: figures from the
-- broadcasts themselves (fct_broadcasts' last_seen_at) move with snapshots after the
-- last complete day, which the hourly runs leave this window alone for, so a build
-- depended on the hour it ran (the production-path test found lengths 30 minutes
-- apart between an incremental build and a full one).
with
{{ complete_days_plan('agg_streamer_daily', 'window_end') }},

days as (
    select
        user_id,
        count(*) as days_live,
        cast(sum(broadcasts) as bigint) as broadcasts,
        sum(hours_watched) as hours_watched,
        sum(hours_streamed) as hours_streamed,
        max(loaded_at) as loaded_at,
        max(staged_at) as staged_at
    from {{ ref('agg_streamer_daily') }}
    where snapshot_date >= {{ window_bound(30) }} and snapshot_date <= (select through from plan)
    group by user_id
)

select
    30 as window_days,
    {{ add_days('plan.through', -29) }} as window_start,
    plan.through as window_end,
    days.user_id,
    days.days_live,
    days.broadcasts,
    days.hours_streamed / nullif(days.broadcasts, 0) as avg_broadcast_hours,
    days.hours_watched,
    days.hours_streamed,
    days.hours_watched / days.hours_streamed as avg_viewers,
    days.loaded_at,
    days.staged_at
from days
cross join plan
