{{ config(
    materialized='incremental', incremental_strategy='delete+insert', unique_key=['snapshot_at', 'user_id'],
    schema='staging', incremental_predicates=on_snowflake([only_new_slots_replaced('raw.raw_users', 'staging', 'stg_users')])
) }}

-- One row per user per fetch (users are fetched at most daily), typed; a refetch
-- loaded again replaces the earlier load. A table merged by load time, like
-- stg_streams: the streamer snapshot reads every fetch each run, and parsing them all
-- again cost more than the rest of its work.
with parsed as (
    select
        {{ json_record('raw_json', [
            'id', 'login', 'display_name', 'type', 'broadcaster_type', 'description',
            'profile_image_url', 'offline_image_url', 'created_at', '_snapshot_at',
        ]) }} as record,
        file_name,
        file_row_number,
        loaded_at
    from {{ source('twitch', 'raw_users') }} as raw_rows
    {% if is_incremental() %}
    where {{ unstaged_rows(this) }}
    {% endif %}
),

typed as (
    select
        {{ record_text('record', 'id') }} as user_id,
        {{ record_text('record', 'login') }} as login,
        {{ record_text('record', 'display_name') }} as display_name,
        {{ record_text('record', 'type') }} as user_type,
        {{ record_text('record', 'broadcaster_type') }} as broadcaster_type,
        {{ record_text('record', 'description') }} as description,
        {{ record_text('record', 'profile_image_url') }} as profile_image_url,
        {{ record_text('record', 'offline_image_url') }} as offline_image_url,
        {{ utc_timestamp(record_text('record', 'created_at')) }} as created_at,
        {{ utc_timestamp(record_text('record', '_snapshot_at')) }} as snapshot_at,
        file_name,
        file_row_number,
        loaded_at,
        {{ utc_now() }} as staged_at
    from parsed
),

latest as (
    select * from typed
    qualify row_number() over (
        partition by user_id, snapshot_at
        order by loaded_at desc, file_name desc, file_row_number desc
    ) = 1
)

select
    user_id || '@' || cast(snapshot_at as varchar) as fetch_key,
    *
from latest as candidate
{% if is_incremental() %}
where not {{ loses_to_a_staged_row(this, ['snapshot_at', 'user_id']) }}
{% endif %}
