{{ config(materialized='view', schema='marts') }}

-- Every streamer seen live: the current profile (from the SCD2 snapshot, or the
-- stream's own login and name while the profile has not been fetched yet) and when
-- the streamer was first and last seen (streamer_activity).
--
-- A view: the hourly part lives in streamer_activity, merged in place, and the
-- profile in the snapshot, so no run rewrites a streamer's row to change one of them.
with profile as (
    select * from {{ ref('snap_streamers') }} where dbt_valid_to is null
)

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
from {{ ref('streamer_activity') }} as seen
left join profile on profile.user_id = seen.user_id
