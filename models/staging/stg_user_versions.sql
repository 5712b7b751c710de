{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='user_id', schema='staging') }}

-- Each streamer's current profile version, from every fetch of it: the source of the
-- snap_streamers snapshot. An incremental run takes only the streamers with a fetch
-- staged since the last run and folds their new fetches into their rows (or, after a
-- late fetch, recomputes them from all their fetches: see current_versions); the
-- others keep their row. Runs stage fetches at increasing times, and each row keeps
-- its latest fetch's `staged_at`, so the fetches staged since the last run are all
-- staged after the table's latest (a streamer whose fetch came late is taken again,
-- harmlessly). A table built before `fetched_at` existed fails the run, which names
-- the rebuild it needs (`--full-refresh --select stg_user_versions`).
{{ current_versions(ref('stg_users'), 'user_id',
    ['login', 'display_name', 'broadcaster_type', 'description', 'profile_image_url'], by_staged_at=true) }}
