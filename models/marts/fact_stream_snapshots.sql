{{ config(
    materialized='incremental', incremental_strategy='delete+insert', unique_key=['snapshot_at', 'stream_id'],
    schema='marts', incremental_predicates=on_snowflake([
        incremental_target_column('snapshot_at') ~ " >= (select min(snapshot_at) from " ~ model_relation('staging', 'stg_streams')
        ~ " where staged_at > (select max(staged_at) from " ~ model_relation('marts', 'fact_stream_snapshots') ~ "))"
    ])
) }}

-- One row per stream per slot. New rows are the ones staged since the last run
-- (staged_at, not snapshot or load time), so a slot that lands late is still merged;
-- the key makes a reload replace, not add.
-- A replaced row is of the same slot as a new one: keyed on the slot first, the
-- delete skips older slots (on Snowflake through the predicate, named through
-- model_relation: dbt renders config before ref() or this; see on_snowflake).
select
    slot_stream_key,
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
    loaded_at,
    staged_at
from {{ ref('stg_streams') }}
{% if is_incremental() %}
where staged_at > (select max(staged_at) from {{ this }})
{% endif %}
-- Stored in time order, so the warehouse skips the older blocks (DuckDB's zone maps,
-- Snowflake's micro-partition pruning) for the recent days an hourly run rebuilds.
order by snapshot_at
