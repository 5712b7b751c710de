{{ config(materialized='incremental', unique_key='day_key', schema='marts') }}

-- Per broadcast language and UTC day, with the same measures as games.
{{ daily_audience('language') }}
