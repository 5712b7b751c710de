{{ config(materialized='view', schema='staging') }}

-- One row per stream per slot, typed. A slot's file can be loaded twice (a late or
-- repeated file): the latest load wins.
with typed as (
    select
        {{ json_text('raw_json', 'id') }} as stream_id,
        {{ json_text('raw_json', 'user_id') }} as user_id,
        {{ json_text('raw_json', 'user_login') }} as user_login,
        {{ json_text('raw_json', 'user_name') }} as user_name,
        -- Helix sends "" when a stream has no category.
        nullif({{ json_text('raw_json', 'game_id') }}, '') as game_id,
        nullif({{ json_text('raw_json', 'game_name') }}, '') as game_name,
        {{ json_text('raw_json', 'type') }} as stream_type,
        {{ json_text('raw_json', 'title') }} as title,
        cast({{ json_text('raw_json', 'viewer_count') }} as bigint) as viewer_count,
        {{ utc_timestamp(json_text('raw_json', 'started_at')) }} as started_at,
        {{ json_text('raw_json', 'language') }} as language,
        {{ json_raw('raw_json', 'tags') }} as tags,
        cast({{ json_text('raw_json', 'is_mature') }} as boolean) as is_mature,
        {{ utc_timestamp(json_text('raw_json', '_snapshot_at')) }} as snapshot_at,
        {{ utc_timestamp(json_text('raw_json', '_extracted_at')) }} as extracted_at,
        file_name,
        file_row_number,
        loaded_at
    from {{ source('twitch', 'raw_streams') }}
)

select
    stream_id || '@' || cast(snapshot_at as varchar) as snapshot_key,
    *
from typed
qualify row_number() over (
    partition by stream_id, snapshot_at
    order by loaded_at desc, file_name desc, file_row_number desc
) = 1
