{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='stream_id', schema='marts') }}

-- One row per broadcast (Helix stream id): when it ran and how it was watched.
-- An incremental run recomputes only the broadcasts that new snapshots touch.
select
    stream_id,
    max(user_id) as user_id,
    -- Its latest language: a streamer who switches mid-broadcast is counted in the new one.
    max_by(language, snapshot_at) as language,
    min(started_at) as started_at,
    min(snapshot_at) as first_seen_at,
    max(snapshot_at) as last_seen_at,
    count(*) as snapshots,
    max(viewer_count) as peak_viewers,
    cast(sum(viewer_count) as double) / count(*) as avg_viewers,
    {{ hours('sum(viewer_count)') }} as hours_watched,
    {{ hours('count(*)') }} as hours_streamed,
    count(distinct game_id) as games_played,
    max(loaded_at) as loaded_at,
    max(staged_at) as staged_at
from {{ ref('fact_stream_snapshots') }}
{% if is_incremental() %}
{%- set new_rows -%}
select stream_id, snapshot_at from {{ ref('fact_stream_snapshots') }}
    where staged_at > (select max(staged_at) from {{ this }})
{%- endset %}
where stream_id in (select stream_id from ({{ new_rows }}) as new_rows)
    -- A touched broadcast's rows are new, or no older than its first_seen_at: the
    -- bound lets the warehouse skip the older part of the fact unread.
    and snapshot_at >= (
        select min(earliest) from (
            select snapshot_at as earliest from ({{ new_rows }}) as new_rows
            union all
            select first_seen_at from {{ this }}
            where stream_id in (select stream_id from ({{ new_rows }}) as new_rows)
        ) as bounds
    )
{% endif %}
group by stream_id
