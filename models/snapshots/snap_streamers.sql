{% snapshot snap_streamers %}
{{ config(schema='snapshots', unique_key='user_id', strategy='timestamp', updated_at='version_at') }}

-- SCD2 history of streamer profiles: a new row whenever one of these changes.
{{ current_versions(ref('stg_users'), 'user_id',
    ['login', 'display_name', 'broadcaster_type', 'description', 'profile_image_url']) }}

{% endsnapshot %}
