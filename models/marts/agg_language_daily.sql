{#- An incremental run rebuilds whole days and replaces them (delete+insert on the
    day): a reload that moves a stream to another language leaves no row of the old one. -#}
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='snapshot_date', schema='marts') }}

-- Per broadcast language and UTC day, with the same measures as games.
{{ daily_audience('language') }}
