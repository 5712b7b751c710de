{{ config(materialized='incremental', unique_key='snapshot_key', schema='marts') }}

-- One row per stream per slot. New rows are picked by load time, not snapshot time,
-- so a slot that lands late is still merged; the key makes a reload replace, not add.
select
    snapshot_key,
    stream_id,
    user_id,
    user_login,
    user_name,
    game_id,
    game_name,
    language,
    stream_type,
    title,
    is_mature,
    viewer_count,
    started_at,
    snapshot_at,
    cast(snapshot_at as date) as snapshot_date,
    loaded_at
from {{ ref('stg_streams') }}
{% if is_incremental() %}
where loaded_at > (select max(loaded_at) from {{ this }})
{% endif %}
