{#- An incremental run replaces whole days (delete+insert on the day), so a reload
    that takes a streamer out of a day leaves no row of it. -#}
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='snapshot_date', schema='marts') }}

-- Per streamer and UTC day. Hours stay on the day they were watched; a broadcast is
-- counted once, on the day it started, as TwitchTracker counts streams: the day of
-- its first snapshot (a broadcast started just before midnight and first seen after
-- it counts on the day it was first seen, where its hours are).
--
-- An incremental run takes the snapshots staged since the last one. When they all
-- come after every slot the table has counted (the hourly case), it folds them into
-- their days' rows: none of them can replace a snapshot already counted, and no
-- broadcast already counted can move to another day. Otherwise (a late slot, a
-- reload) it rebuilds every day from the earliest new snapshot's, as a full build
-- would. Either way it writes each day it touches whole.
with
{% if is_incremental() %}
new_rows as (
    select user_id, snapshot_date, snapshot_at, stream_id, game_id, viewer_count, loaded_at, staged_at
    from {{ ref('fact_stream_snapshots') }}
    where staged_at > (select max(staged_at) from {{ this }})
),

plan as (
    select
        min(snapshot_at) as first_new_at,
        cast(min(snapshot_at) as date) as first_new_date,
        coalesce(min(snapshot_at) > (select max(last_seen_at) from {{ this }}), false) as folds
    from new_rows
),
{% endif %}

rebuilt as (
    select
        snapshots.user_id,
        snapshots.snapshot_date,
        count(distinct case
            when cast(broadcasts.first_seen_at as date) = snapshots.snapshot_date then snapshots.stream_id
        end) as broadcasts,
        sum(snapshots.viewer_count) as viewer_total,
        count(*) as snapshots,
        max(snapshots.viewer_count) as peak_viewers,
        count(distinct snapshots.game_id) as games_played,
        max(snapshots.snapshot_at) as last_seen_at,
        max(snapshots.loaded_at) as loaded_at,
        max(snapshots.staged_at) as staged_at
    from {{ ref('fact_stream_snapshots') }} as snapshots
    join (
        -- Only broadcasts still live on a day being built: the rest of the table unread.
        select stream_id, first_seen_at from {{ ref('fct_broadcasts') }}
        where {{ days_to_rebuild('last_seen_at') }}
    ) as broadcasts on broadcasts.stream_id = snapshots.stream_id
    where {{ days_to_rebuild('snapshots.snapshot_date') }}
    group by snapshots.user_id, snapshots.snapshot_date
)

{% if is_incremental() %}
,

-- Folding: the new snapshots per streamer and day. A broadcast is new when its first
-- snapshot is among them.
added as (
    select
        new_rows.user_id,
        new_rows.snapshot_date,
        count(distinct case
            when broadcasts.first_seen_at >= (select first_new_at from plan)
                and cast(broadcasts.first_seen_at as date) = new_rows.snapshot_date
            then new_rows.stream_id
        end) as broadcasts,
        sum(new_rows.viewer_count) as viewer_total,
        count(*) as snapshots,
        max(new_rows.viewer_count) as peak_viewers,
        max(new_rows.snapshot_at) as last_seen_at,
        max(new_rows.loaded_at) as loaded_at,
        max(new_rows.staged_at) as staged_at
    from new_rows
    join (
        select stream_id, first_seen_at from {{ ref('fct_broadcasts') }}
        where last_seen_at >= {{ plan_bound('first_new_at', 'folds', 'timestamp') }}
    ) as broadcasts on broadcasts.stream_id = new_rows.stream_id
    where (select folds from plan)
    group by new_rows.user_id, new_rows.snapshot_date
),

-- The streamers' games new to their day: played in the new snapshots, not before
-- them that day (the day's earlier snapshots are read for those streamers only).
added_triples as (
    select distinct user_id, snapshot_date, game_id from new_rows
    where (select folds from plan) and game_id is not null
),

added_games as (
    select user_id, snapshot_date, count(*) as games
    from added_triples
    where not exists (
        select 1 from {{ ref('fact_stream_snapshots') }} as earlier
        where earlier.snapshot_date >= {{ plan_bound('first_new_date', 'folds', 'date') }}
            and earlier.snapshot_at < (select first_new_at from plan)
            and earlier.user_id = added_triples.user_id
            and earlier.snapshot_date = added_triples.snapshot_date
            and earlier.game_id = added_triples.game_id
    )
    group by user_id, snapshot_date
),

counted as (
    -- The day's rows as the table has them; with folding, that day is the only one
    -- at or after the first new snapshot's.
    select
        user_id,
        snapshot_date,
        broadcasts,
        {{ from_hours('hours_watched') }} as viewer_total,
        {{ from_hours('hours_streamed') }} as snapshots,
        peak_viewers,
        games_played,
        last_seen_at,
        loaded_at,
        staged_at
    from {{ this }}
    where snapshot_date >= {{ plan_bound('first_new_date', 'folds', 'date') }}
),

folded as (
    select
        coalesce(counted.user_id, added.user_id) as user_id,
        coalesce(counted.snapshot_date, added.snapshot_date) as snapshot_date,
        coalesce(counted.broadcasts, 0) + coalesce(added.broadcasts, 0) as broadcasts,
        coalesce(counted.viewer_total, 0) + coalesce(added.viewer_total, 0) as viewer_total,
        coalesce(counted.snapshots, 0) + coalesce(added.snapshots, 0) as snapshots,
        {{ larger('counted.peak_viewers', 'added.peak_viewers') }} as peak_viewers,
        coalesce(counted.games_played, 0) + coalesce(added_games.games, 0) as games_played,
        {{ larger('counted.last_seen_at', 'added.last_seen_at') }} as last_seen_at,
        {{ larger('counted.loaded_at', 'added.loaded_at') }} as loaded_at,
        {{ larger('counted.staged_at', 'added.staged_at') }} as staged_at
    from counted
    full outer join added
        on added.user_id = counted.user_id and added.snapshot_date = counted.snapshot_date
    left join added_games
        on added_games.user_id = added.user_id and added_games.snapshot_date = added.snapshot_date
),

days as (
    select * from rebuilt
    union all
    select * from folded
)
{% else %}
,

days as (select * from rebuilt)
{% endif %}

select
    {{ day_key('user_id') }} as day_key,
    user_id,
    snapshot_date,
    broadcasts,
    {{ hours('viewer_total') }} as hours_watched,
    {{ hours('snapshots') }} as hours_streamed,
    cast(viewer_total as double) / snapshots as avg_viewers,
    peak_viewers,
    games_played,
    last_seen_at,
    loaded_at,
    staged_at
from days
{% if not is_incremental() %}
-- Stored by day, so the older days' blocks can be skipped by their keys' bounds (see
-- day_key): an incremental run appends the days it rebuilds, a full build all of them.
order by snapshot_date
{% endif %}
