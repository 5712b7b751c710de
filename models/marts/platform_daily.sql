{#- Built on complete days (macros/periods.sql); an incremental run replaces whole days. -#}
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='snapshot_date', schema='marts') }}

-- The whole platform per complete UTC day: channels live, hours watched and streamed,
-- average and peak concurrent viewers and channels (averages over the slots the
-- pipeline observed that day), broadcasts started, and channels new to the warehouse
-- (first seen live that day, as far back as its history goes: on its first day every
-- channel is new).
with
{{ complete_days_plan('fact_stream_snapshots', 'snapshot_date') }},

per_slot as (
    select
        snapshot_date,
        snapshot_at,
        sum(viewer_count) as viewers,
        count(*) as channels,
        max(loaded_at) as loaded_at,
        max(staged_at) as staged_at
    from {{ ref('fact_stream_snapshots') }}
    where {{ complete_days_to_build() }}
    group by snapshot_date, snapshot_at
),

per_day as (
    select
        snapshot_date,
        count(*) as slots,
        sum(viewers) as viewer_total,
        sum(channels) as channel_slots,
        max(viewers) as peak_viewers,
        max(channels) as peak_channels,
        max(loaded_at) as loaded_at,
        max(staged_at) as staged_at
    from per_slot
    group by snapshot_date
),

channels as (
    select snapshot_date, count(distinct user_id) as channels_live, cast(sum(broadcasts) as bigint) as broadcasts
    from {{ ref('agg_channel_game_daily') }}
    where {{ complete_days_to_build() }}
    group by snapshot_date
),

newcomers as (
    select cast(first_seen_at as date) as snapshot_date, count(*) as new_channels
    from {{ ref('streamer_activity') }}
    where first_seen_at >= cast({{ rebuild_bound() }} as timestamp)
    group by cast(first_seen_at as date)
)

select
    per_day.snapshot_date,
    per_day.slots,
    channels.channels_live,
    {{ hours('per_day.viewer_total') }} as hours_watched,
    {{ hours('per_day.channel_slots') }} as hours_streamed,
    cast(per_day.viewer_total as double) / per_day.slots as avg_viewers,
    per_day.peak_viewers,
    cast(per_day.channel_slots as double) / per_day.slots as avg_channels,
    per_day.peak_channels,
    channels.broadcasts,
    coalesce(newcomers.new_channels, 0) as new_channels,
    per_day.loaded_at,
    per_day.staged_at
from per_day
join channels on channels.snapshot_date = per_day.snapshot_date
left join newcomers on newcomers.snapshot_date = per_day.snapshot_date
