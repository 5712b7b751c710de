{#- Built on complete days (macros/periods.sql): an incremental run replaces whole
    periods (a week, a month, the current rolling window) by their key. -#}
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='period_key', schema='marts') }}

-- Streamers ranked by hours watched per ISO week, calendar month and rolling 7 and 30
-- days (see rank_periods). A broadcast counts in the period of the day it started;
-- average viewers are over the streamer's hours live.
with
{{ complete_days_plan('agg_streamer_daily', 'period_end') }},

member_days as (
    select
        user_id as member,
        snapshot_date,
        hours_watched,
        hours_streamed,
        peak_viewers,
        broadcasts,
        loaded_at,
        staged_at
    from {{ ref('agg_streamer_daily') }}
    where snapshot_date >= {{ ranking_read_bound() }} and snapshot_date <= (select through from plan)
),

{{ rank_periods('user_id', audience=false) }}
