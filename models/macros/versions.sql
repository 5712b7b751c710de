{#- The newest version of each entity in a staging model of repeated fetches, with
    `version_at`: when that version was first seen. A refetch that changed nothing
    keeps the version's time, so a timestamp-strategy snapshot adds no row for it.
    Versions compare as one 64-bit hash of the columns, cheaper than their joined
    text; a collision (about 1 in 2^64 per change) would only hide that change. -#}
{% macro current_versions(relation, key, columns) -%}
with fetches as (
    select
        {{ key }},
        {{ columns | join(', ') }},
        snapshot_at,
        hash(
            {%- for column in columns %}coalesce(cast({{ column }} as varchar), '')
            {%- if not loop.last %}, {% endif %}{% endfor -%}
        ) as version
    from {{ relation }}
),

changes as (
    select
        *,
        coalesce(version <> lag(version) over (partition by {{ key }} order by snapshot_at), true) as is_change
    from fetches
),

current_version as (
    select {{ key }}, max(snapshot_at) as version_at
    from changes
    where is_change
    group by {{ key }}
)

select
    latest.{{ key }},
    {% for column in columns -%}
    latest.{{ column }},
    {% endfor -%}
    current_version.version_at
from changes as latest
join current_version on current_version.{{ key }} = latest.{{ key }}
qualify row_number() over (partition by latest.{{ key }} order by latest.snapshot_at desc) = 1
{%- endmacro %}
