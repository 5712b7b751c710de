{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='game_id', schema='marts') }}

-- Every game streamed: its current name, box art and IGDB id (from the SCD2 snapshot,
-- or the stream's game name until the game is fetched) and first and last seen.
--
-- As dim_streamers: an incremental run rebuilds only the games with new snapshots or
-- a new version, folding the new snapshots into the row they had.
with new_snapshots as (
    -- One pass: max_by is cheaper than ranking every row to find the latest.
    select
        game_id,
        min(snapshot_at) as first_seen_at,
        max(snapshot_at) as last_seen_at,
        max_by(game_name, snapshot_at) as stream_game_name,
        max(loaded_at) as loaded_at,
        max(staged_at) as staged_at
    from {{ ref('fact_stream_snapshots') }}
    where game_id is not null
    {% if is_incremental() %}
        and staged_at > (select max(staged_at) from {{ this }})
    {% endif %}
    group by game_id
),

current_game as (
    select * from {{ ref('snap_games') }} where dbt_valid_to is null
),

{% if is_incremental() %}
{{ fold_into_dimension('game_id', 'current_game', 'version_valid_from', ['stream_game_name']) }}
{% else %}
seen as (
    select * from new_snapshots
)
{% endif %}

select
    seen.game_id,
    coalesce(current_game.game_name, seen.stream_game_name) as game_name,
    current_game.box_art_url,
    current_game.igdb_id,
    current_game.dbt_valid_from as version_valid_from,
    seen.first_seen_at,
    seen.last_seen_at,
    seen.stream_game_name,
    seen.loaded_at,
    seen.staged_at
from seen
left join current_game on current_game.game_id = seen.game_id
