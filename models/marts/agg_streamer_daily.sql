{{ config(materialized='incremental', unique_key='day_key', schema='marts') }}

-- Per streamer and UTC day. An incremental run recomputes only the days new
-- snapshots fall on.
select
    user_id || '@' || cast(snapshot_date as varchar) as day_key,
    user_id,
    snapshot_date,
    count(distinct stream_id) as broadcasts,
    {{ hours('sum(viewer_count)') }} as hours_watched,
    {{ hours('count(*)') }} as hours_streamed,
    cast(sum(viewer_count) as double) / count(*) as avg_viewers,
    max(viewer_count) as peak_viewers,
    count(distinct game_id) as games_played,
    max(loaded_at) as loaded_at,
    max(staged_at) as staged_at
from {{ ref('fact_stream_snapshots') }}
where {{ days_to_build() }}
group by user_id, snapshot_date
