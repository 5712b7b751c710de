{{ config(materialized='table', schema='marts') }}

-- Every game streamed: its current name, box art and IGDB id (from the SCD2 snapshot,
-- or the stream's game name until the game is fetched) and first and last seen.
with seen as (
    -- One pass: max_by is cheaper than ranking every row to find the latest.
    select
        game_id,
        min(snapshot_at) as first_seen_at,
        max(snapshot_at) as last_seen_at,
        max_by(game_name, snapshot_at) as game_name
    from {{ ref('fact_stream_snapshots') }}
    where game_id is not null
    group by game_id
),

current_game as (
    select * from {{ ref('snap_games') }} where dbt_valid_to is null
)

select
    seen.game_id,
    coalesce(current_game.game_name, seen.game_name) as game_name,
    current_game.box_art_url,
    current_game.igdb_id,
    current_game.dbt_valid_from as version_valid_from,
    seen.first_seen_at,
    seen.last_seen_at
from seen
left join current_game on current_game.game_id = seen.game_id
