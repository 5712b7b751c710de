{#- Built on complete days (macros/periods.sql): the one window, replaced whole (its
    key, window_days, is the same on every row) when the last complete day moves or a
    late slot changes a day. -#}
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='window_days', schema='marts') }}

-- Each streamer live in the 30 complete days to the last one: on how many of them, the
-- broadcasts started in them and their average length (from Helix's started_at, or
-- the first snapshot when a stream has none, to the last snapshot that saw it, plus
-- the one snapshot interval it was last seen for: a broadcast seen once lasted about
-- one slot; of the broadcasts that ended within those days), and the streamer's
-- hours and average viewers over those days.
with
{{ complete_days_plan('agg_streamer_daily', 'window_end') }},

days as (
    select
        user_id,
        count(*) as days_live,
        sum(hours_watched) as hours_watched,
        sum(hours_streamed) as hours_streamed,
        max(loaded_at) as loaded_at,
        max(staged_at) as staged_at
    from {{ ref('agg_streamer_daily') }}
    where snapshot_date >= {{ window_bound(30) }} and snapshot_date <= (select through from plan)
    group by user_id
),

broadcasts as (
    select
        user_id,
        count(*) as broadcasts,
        -- Over the broadcasts that ended within the complete days: one still live
        -- after them has a length, and values, the later days change, and the hourly
        -- runs leave this window alone. Whole seconds summed, then divided: a sum of
        -- integers is exact in any order.
        cast(sum(case when last_seen_at < cast({{ add_days('(select through from plan)', 1) }} as timestamp) then
            {{ seconds_between(smaller('started_at', 'first_seen_at'), 'last_seen_at') }}
                + {{ var('snapshot_interval_hours') }} * 3600
        end) as double)
            / nullif(count(case when last_seen_at < cast({{ add_days('(select through from plan)', 1) }} as timestamp) then 1 end), 0)
            / 3600 as avg_broadcast_hours
    from {{ ref('fct_broadcasts') }}
    where first_seen_at >= cast({{ window_bound(30) }} as timestamp)
        and first_seen_at < cast({{ add_days('(select through from plan)', 1) }} as timestamp)
    group by user_id
)

select
    30 as window_days,
    {{ add_days('plan.through', -29) }} as window_start,
    plan.through as window_end,
    days.user_id,
    days.days_live,
    coalesce(broadcasts.broadcasts, 0) as broadcasts,
    broadcasts.avg_broadcast_hours,
    days.hours_watched,
    days.hours_streamed,
    days.hours_watched / days.hours_streamed as avg_viewers,
    days.loaded_at,
    days.staged_at
from days
cross join plan
left join broadcasts on broadcasts.user_id = days.user_id
