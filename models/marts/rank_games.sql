{#- Built on complete days (macros/periods.sql): an incremental run replaces whole
    periods (a week, a month, the current rolling window) by their key. -#}
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='period_key', schema='marts') }}

-- Games ranked by hours watched per ISO week, calendar month and rolling 7 and 30
-- days (see rank_periods), with their unique channels. A broadcast counts for the
-- game it started in, in the period of the day it started; average viewers are over
-- every hour the pipeline observed in the period, and the peak is of concurrent
-- viewers in one slot.
with
{{ complete_days_plan('agg_channel_game_daily', 'period_end') }},

member_days as (
    select
        channels.game_id as member,
        channels.snapshot_date,
        channels.user_id as channel,
        {{ hours('channels.viewer_total') }} as hours_watched,
        {{ hours('channels.snapshots') }} as hours_streamed,
        daily.peak_viewers,
        channels.broadcasts,
        channels.loaded_at,
        channels.staged_at
    from {{ ref('agg_channel_game_daily') }} as channels
    join {{ ref('agg_game_daily') }} as daily
        on daily.game_id = channels.game_id and daily.snapshot_date = channels.snapshot_date
    where channels.snapshot_date >= {{ ranking_read_bound() }} and channels.snapshot_date <= (select through from plan)
        and daily.snapshot_date >= {{ ranking_read_bound() }}
),

observed_days as (
    select snapshot_date, {{ hours('slots') }} as hours_observed
    from {{ ref('platform_daily') }}
    where snapshot_date >= {{ ranking_read_bound() }} and snapshot_date <= (select through from plan)
),

{{ rank_periods('game_id', audience=true) }}
