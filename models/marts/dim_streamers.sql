{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='user_id', schema='marts') }}

-- Every streamer seen live: the current profile (from the SCD2 snapshot, or the
-- stream's own login and name while the profile has not been fetched yet) and when
-- the streamer was first and last seen.
--
-- An incremental run rebuilds only the streamers with new snapshots or a new profile
-- version, folding the new snapshots into the row they had: first and last seen, and
-- the login and name of the latest stream (kept as stream_login, stream_display_name).
with new_snapshots as (
    -- One pass: max_by is cheaper than ranking every row to find the latest.
    select
        user_id,
        min(snapshot_at) as first_seen_at,
        max(snapshot_at) as last_seen_at,
        max_by(user_login, snapshot_at) as stream_login,
        max_by(user_name, snapshot_at) as stream_display_name,
        max(loaded_at) as loaded_at,
        max(staged_at) as staged_at
    from {{ ref('fact_stream_snapshots') }}
    {% if is_incremental() %}
    where staged_at > (select max(staged_at) from {{ this }})
    {% endif %}
    group by user_id
),

profile as (
    select * from {{ ref('snap_streamers') }} where dbt_valid_to is null
),

{% if is_incremental() %}
{{ fold_into_dimension('user_id', 'profile', 'profile_valid_from', ['stream_login', 'stream_display_name']) }}
{% else %}
seen as (
    select * from new_snapshots
)
{% endif %}

select
    seen.user_id,
    coalesce(profile.login, seen.stream_login) as login,
    coalesce(profile.display_name, seen.stream_display_name) as display_name,
    profile.broadcaster_type,
    profile.description,
    profile.profile_image_url,
    profile.dbt_valid_from as profile_valid_from,
    seen.first_seen_at,
    seen.last_seen_at,
    seen.stream_login,
    seen.stream_display_name,
    seen.loaded_at,
    seen.staged_at
from seen
left join profile on profile.user_id = seen.user_id
