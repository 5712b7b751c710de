{{ config(materialized='incremental', unique_key='day_key', schema='marts') }}

-- Per game and UTC day: hours watched and streamed, peak and average viewers and
-- channels, viewer ratio (viewers per channel).
{{ daily_audience('game_id') }}
