{% snapshot snap_streamers %}
{{ config(schema='snapshots', unique_key='user_id', strategy='timestamp', updated_at='version_at') }}

-- SCD2 history of streamer profiles: a new row whenever one of these changes.
select user_id, login, display_name, broadcaster_type, description, profile_image_url, version_at
from {{ ref('stg_user_versions') }}

{% endsnapshot %}
