{#- An incremental run rebuilds whole days and replaces them (delete+insert on the day). -#}
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='snapshot_date', schema='marts') }}

-- Per streamer and UTC day. Hours stay on the day they were watched; a broadcast is
-- counted once, on the day it started, as TwitchTracker counts streams: the day of
-- its first snapshot (a broadcast started just before midnight and first seen after
-- it counts on the day it was first seen, where its hours are). An incremental run
-- recomputes only the days new snapshots fall on.
select
    snapshots.user_id || '@' || cast(snapshots.snapshot_date as varchar) as day_key,
    snapshots.user_id,
    snapshots.snapshot_date,
    count(distinct case
        when cast(broadcasts.first_seen_at as date) = snapshots.snapshot_date then snapshots.stream_id
    end) as broadcasts,
    {{ hours('sum(snapshots.viewer_count)') }} as hours_watched,
    {{ hours('count(*)') }} as hours_streamed,
    cast(sum(snapshots.viewer_count) as double) / count(*) as avg_viewers,
    max(snapshots.viewer_count) as peak_viewers,
    count(distinct snapshots.game_id) as games_played,
    max(snapshots.loaded_at) as loaded_at,
    max(snapshots.staged_at) as staged_at
from {{ ref('fact_stream_snapshots') }} as snapshots
join (
    -- Only broadcasts still live on a day being built: the rest of the table unread.
    select stream_id, first_seen_at from {{ ref('fct_broadcasts') }}
    where {{ days_to_build('last_seen_at') }}
) as broadcasts on broadcasts.stream_id = snapshots.stream_id
where {{ days_to_build() }}
group by snapshots.user_id, snapshots.snapshot_date
