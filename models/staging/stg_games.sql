{{ config(materialized='view', schema='staging') }}

-- One row per game per fetch, typed.
with parsed as (
    select
        {{ json_record('raw_json', ['id', 'name', 'box_art_url', 'igdb_id', '_snapshot_at']) }} as record,
        loaded_at
    from {{ source('twitch', 'raw_games') }}
),

typed as (
    select
        {{ record_text('record', 'id') }} as game_id,
        {{ record_text('record', 'name') }} as game_name,
        {{ record_text('record', 'box_art_url') }} as box_art_url,
        nullif({{ record_text('record', 'igdb_id') }}, '') as igdb_id,
        {{ utc_timestamp(record_text('record', '_snapshot_at')) }} as snapshot_at,
        loaded_at
    from parsed
)

select * from typed
qualify row_number() over (partition by game_id, snapshot_at order by loaded_at desc) = 1
