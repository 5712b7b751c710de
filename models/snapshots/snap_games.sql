{% snapshot snap_games %}
{{ config(schema='snapshots', unique_key='game_id', strategy='timestamp', updated_at='version_at') }}

-- SCD2 history of games: a new row when the name, box art or IGDB id changes.
{{ current_versions(ref('stg_games'), 'game_id', ['game_name', 'box_art_url', 'igdb_id']) }}

{% endsnapshot %}
