{#- The CTEs `affected` and `seen` of an incremental dimension built from the fact.
    The model first defines `new_snapshots` (per member: first_seen_at, last_seen_at,
    the latest stream's `latest_columns`, loaded_at, staged_at; in an incremental run only from
    the fact's new rows) and, if the dimension carries a profile, `current` (the
    snapshot's current versions). A run then rebuilds the members with new snapshots
    or (with `current`) a new version since the dimension was built (its
    `version_column`), folding the new snapshots into the row they had. -#}
{% macro fold_into_dimension(key, current, version_column, latest_columns) -%}
affected as (
    select {{ key }} from new_snapshots
    {%- if current %}
    union
    select {{ current }}.{{ key }}
    from {{ current }}
    join {{ this }} as built on built.{{ key }} = {{ current }}.{{ key }}
    where built.{{ version_column }} is distinct from {{ current }}.dbt_valid_from
    {%- endif %}
),

seen as (
    select
        affected.{{ key }},
        coalesce(least(built.first_seen_at, new.first_seen_at), built.first_seen_at, new.first_seen_at)
            as first_seen_at,
        coalesce(greatest(built.last_seen_at, new.last_seen_at), built.last_seen_at, new.last_seen_at)
            as last_seen_at,
        {%- for column in latest_columns %}
        case when new.last_seen_at >= built.last_seen_at or built.{{ key }} is null
            then new.{{ column }} else built.{{ column }} end as {{ column }},
        {%- endfor %}
        coalesce(greatest(built.loaded_at, new.loaded_at), built.loaded_at, new.loaded_at) as loaded_at,
        coalesce(greatest(built.staged_at, new.staged_at), built.staged_at, new.staged_at) as staged_at
    from affected
    left join new_snapshots as new on new.{{ key }} = affected.{{ key }}
    left join {{ this }} as built on built.{{ key }} = affected.{{ key }}
)
{%- endmacro %}
