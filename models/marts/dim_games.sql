{{ config(materialized='table', schema='marts') }}

-- Every game streamed: its current name, box art and IGDB id (from the SCD2 snapshot,
-- or the stream's game name until the game is fetched) and first and last seen.
with seen as (
    select
        game_id,
        min(snapshot_at) as first_seen_at,
        max(snapshot_at) as last_seen_at
    from {{ ref('fact_stream_snapshots') }}
    where game_id is not null
    group by game_id
),

latest_stream as (
    select game_id, game_name
    from {{ ref('fact_stream_snapshots') }}
    where game_id is not null
    qualify row_number() over (partition by game_id order by snapshot_at desc, stream_id desc) = 1
),

current_game as (
    select * from {{ ref('snap_games') }} where dbt_valid_to is null
)

select
    seen.game_id,
    coalesce(current_game.game_name, latest_stream.game_name) as game_name,
    current_game.box_art_url,
    current_game.igdb_id,
    current_game.dbt_valid_from as version_valid_from,
    seen.first_seen_at,
    seen.last_seen_at
from seen
join latest_stream on latest_stream.game_id = seen.game_id
left join current_game on current_game.game_id = seen.game_id
