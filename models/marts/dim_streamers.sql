{{ config(materialized='incremental', unique_key='user_id', schema='marts') }}

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
        max(loaded_at) as loaded_at
    from {{ ref('fact_stream_snapshots') }}
    {% if is_incremental() %}
    where loaded_at > (select max(loaded_at) from {{ this }})
    {% endif %}
    group by user_id
),

profile as (
    select * from {{ ref('snap_streamers') }} where dbt_valid_to is null
),

{% if is_incremental() %}
affected as (
    select user_id from new_snapshots
    union
    select profile.user_id
    from profile
    join {{ this }} as built on built.user_id = profile.user_id
    where built.profile_valid_from is distinct from profile.dbt_valid_from
),

seen as (
    select
        affected.user_id,
        coalesce(least(built.first_seen_at, new.first_seen_at), built.first_seen_at, new.first_seen_at)
            as first_seen_at,
        coalesce(greatest(built.last_seen_at, new.last_seen_at), built.last_seen_at, new.last_seen_at)
            as last_seen_at,
        case when new.last_seen_at >= built.last_seen_at or built.user_id is null
            then new.stream_login else built.stream_login end as stream_login,
        case when new.last_seen_at >= built.last_seen_at or built.user_id is null
            then new.stream_display_name else built.stream_display_name end as stream_display_name,
        coalesce(greatest(built.loaded_at, new.loaded_at), built.loaded_at, new.loaded_at) as loaded_at
    from affected
    left join new_snapshots as new on new.user_id = affected.user_id
    left join {{ this }} as built on built.user_id = affected.user_id
)
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
    seen.loaded_at
from seen
left join profile on profile.user_id = seen.user_id
