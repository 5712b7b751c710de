{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='user_id', schema='staging') }}

-- Each streamer's current profile version, from every fetch of it: the source of the
-- snap_streamers snapshot. An incremental run recomputes only the streamers with a
-- fetch staged since the last run, from all of their fetches (so a late fetch counts
-- where it belongs); the others keep their row. Before, the snapshot read every fetch
-- of the history on every run, a cost that grew by a day's fetches each day.
-- Runs stage fetches at increasing times, and each row keeps its latest fetch's
-- `staged_at`, so the fetches staged since the last run are all staged after the
-- table's latest (a streamer whose fetch came late is taken again, harmlessly).
{{ current_versions(ref('stg_users'), 'user_id',
    ['login', 'display_name', 'broadcaster_type', 'description', 'profile_image_url'], by_staged_at=true) }}
