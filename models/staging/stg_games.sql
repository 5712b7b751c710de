{{ config(materialized='view', schema='staging') }}

-- One row per game per fetch, typed.
with typed as (
    select
        {{ json_text('raw_json', 'id') }} as game_id,
        {{ json_text('raw_json', 'name') }} as game_name,
        {{ json_text('raw_json', 'box_art_url') }} as box_art_url,
        nullif({{ json_text('raw_json', 'igdb_id') }}, '') as igdb_id,
        {{ utc_timestamp(json_text('raw_json', '_snapshot_at')) }} as snapshot_at,
        loaded_at
    from {{ source('twitch', 'raw_games') }}
)

select * from typed
qualify row_number() over (partition by game_id, snapshot_at order by loaded_at desc) = 1
