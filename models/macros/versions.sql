{#- The newest version of each entity in a staging model of repeated fetches, with
    `version_at`: when that version was first seen. A refetch that changed nothing
    keeps the version's time, so a timestamp-strategy snapshot adds no row for it.
    Versions compare as one 64-bit hash of the columns, cheaper than their joined
    text; a collision (about 1 in 2^64 per change) would only hide that change.
    With `by_staged_at`, the relation has `staged_at` (when a run staged the fetch)
    and so has the result (its latest fetch's), and an incremental run takes only the
    entities with a fetch staged after its table's latest, from all of their fetches. -#}
{% macro current_versions(relation, key, columns, by_staged_at=false) -%}
with fetches as (
    select
        {{ key }},
        {{ columns | join(', ') }},
        snapshot_at,
        {%- if by_staged_at %}
        staged_at,
        {%- endif %}
        hash(
            {%- for column in columns %}coalesce(cast({{ column }} as varchar), '')
            {%- if not loop.last %}, {% endif %}{% endfor -%}
        ) as version
    from {{ relation }}
    {%- if by_staged_at and is_incremental() %}
    where {{ key }} in (
        select {{ key }} from {{ relation }} where staged_at > (select max(staged_at) from {{ this }})
    )
    {%- endif %}
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
    {% if by_staged_at -%}
    latest.staged_at,
    {% endif -%}
    current_version.version_at
from changes as latest
join current_version on current_version.{{ key }} = latest.{{ key }}
qualify row_number() over (partition by latest.{{ key }} order by latest.snapshot_at desc) = 1
{%- endmacro %}
