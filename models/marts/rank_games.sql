{#- Built on complete days (macros/periods.sql): an incremental run replaces whole
    periods (a week, a month, the current rolling window) by their key. -#}
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='period_key', schema='marts') }}

-- Games ranked by hours watched per ISO week, calendar month and rolling 7 and 30
-- days (see rank_periods), with their unique channels. A broadcast counts for the
-- game it started in, in the period of the day it started; average viewers are over
-- every hour the pipeline observed in the period, and the peak is of concurrent
-- viewers in one slot.
{{ rank_audience('game_id', 'agg_game_daily') }}
