{{ config(materialized='table', schema='marts') }}

-- Per streamer and UTC day.
select
    user_id || '@' || cast(snapshot_date as varchar) as day_key,
    user_id,
    snapshot_date,
    count(distinct stream_id) as broadcasts,
    {{ hours('sum(viewer_count)') }} as hours_watched,
    {{ hours('count(*)') }} as hours_streamed,
    cast(sum(viewer_count) as double) / count(*) as avg_viewers,
    max(viewer_count) as peak_viewers,
    count(distinct game_id) as games_played
from {{ ref('fact_stream_snapshots') }}
group by user_id, snapshot_date
