{#- An incremental run rebuilds whole days and replaces them (delete+insert on the
    day): a reload that moves a stream to another game leaves no row of the old one. -#}
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='snapshot_date', schema='marts') }}

-- Per game and UTC day: hours watched and streamed, peak and average viewers and
-- channels, viewer ratio (viewers per channel).
{{ daily_audience('game_id') }}
