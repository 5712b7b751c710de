{{ config(materialized='table', schema='marts') }}

-- Every streamer seen live: the current profile (from the SCD2 snapshot, or the
-- stream's own login and name while the profile has not been fetched yet) and when
-- the streamer was first and last seen.
with seen as (
    -- One pass: max_by is cheaper than ranking every row to find the latest.
    select
        user_id,
        min(snapshot_at) as first_seen_at,
        max(snapshot_at) as last_seen_at,
        max_by(user_login, snapshot_at) as user_login,
        max_by(user_name, snapshot_at) as user_name
    from {{ ref('fact_stream_snapshots') }}
    group by user_id
),

profile as (
    select * from {{ ref('snap_streamers') }} where dbt_valid_to is null
)

select
    seen.user_id,
    coalesce(profile.login, seen.user_login) as login,
    coalesce(profile.display_name, seen.user_name) as display_name,
    profile.broadcaster_type,
    profile.description,
    profile.profile_image_url,
    profile.dbt_valid_from as profile_valid_from,
    seen.first_seen_at,
    seen.last_seen_at
from seen
left join profile on profile.user_id = seen.user_id
