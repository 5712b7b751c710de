{#- Built on complete days (macros/periods.sql); an incremental run replaces whole days. -#}
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='snapshot_date', schema='marts') }}

-- How concentrated watching is, per complete UTC day: the share of the day's hours
-- watched that went to its top 100, 1,000 and 10,000 channels, and the Gini
-- coefficient of hours watched across the channels live that day (0: every channel
-- watched alike; near 1: one channel watched, the rest not). Rounded to 6 decimals:
-- sums of that many products are not exact in floating point, and the last bits
-- would otherwise depend on the order the warehouse adds them in.
with
{{ complete_days_plan('agg_streamer_daily', 'snapshot_date') }},

ranked as (
    select
        snapshot_date,
        hours_watched,
        loaded_at,
        staged_at,
        row_number() over (partition by snapshot_date order by hours_watched desc, user_id) as position,
        count(*) over (partition by snapshot_date) as channels
    from {{ ref('agg_streamer_daily') }}
    where {{ complete_days_to_build() }}
),

per_day as (
    select
        snapshot_date,
        max(channels) as channels,
        sum(hours_watched) as hours_watched,
        sum(case when position <= 100 then hours_watched else 0 end) as top_100_hours,
        sum(case when position <= 1000 then hours_watched else 0 end) as top_1000_hours,
        sum(case when position <= 10000 then hours_watched else 0 end) as top_10000_hours,
        -- Gini = 2 * sum(i * x_i) / (n * sum(x)) - (n + 1) / n, with x ascending and i
        -- from 1: in descending positions p, i = n + 1 - p.
        sum((channels + 1 - position) * hours_watched) as weighted_hours,
        max(loaded_at) as loaded_at,
        max(staged_at) as staged_at
    from ranked
    group by snapshot_date
)

select
    snapshot_date,
    channels,
    hours_watched,
    round(top_100_hours / nullif(hours_watched, 0), 6) as top_100_share,
    round(top_1000_hours / nullif(hours_watched, 0), 6) as top_1000_share,
    round(top_10000_hours / nullif(hours_watched, 0), 6) as top_10000_share,
    round(
        2 * weighted_hours / (cast(channels as double) * nullif(hours_watched, 0))
        - cast(channels + 1 as double) / channels,
        6
    ) as gini,
    loaded_at,
    staged_at
from per_day
