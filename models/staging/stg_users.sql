{{ config(materialized='view', schema='staging') }}

-- One row per user per fetch (users are fetched at most daily), typed.
with typed as (
    select
        {{ json_text('raw_json', 'id') }} as user_id,
        {{ json_text('raw_json', 'login') }} as login,
        {{ json_text('raw_json', 'display_name') }} as display_name,
        {{ json_text('raw_json', 'type') }} as user_type,
        {{ json_text('raw_json', 'broadcaster_type') }} as broadcaster_type,
        {{ json_text('raw_json', 'description') }} as description,
        {{ json_text('raw_json', 'profile_image_url') }} as profile_image_url,
        {{ json_text('raw_json', 'offline_image_url') }} as offline_image_url,
        {{ utc_timestamp(json_text('raw_json', 'created_at')) }} as created_at,
        {{ utc_timestamp(json_text('raw_json', '_snapshot_at')) }} as snapshot_at,
        loaded_at
    from {{ source('twitch', 'raw_users') }}
)

select * from typed
qualify row_number() over (partition by user_id, snapshot_at order by loaded_at desc) = 1
