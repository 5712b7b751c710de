{#- The newest version of each entity in a staging model of repeated fetches, with
    `version_at`: when that version was first seen. A refetch that changed nothing
    keeps the version's time, so a timestamp-strategy snapshot adds no row for it.
    Versions compare as one 64-bit hash of the columns, cheaper than their joined
    text; a collision (about 1 in 2^64 per change) would only hide that change.

    With `by_staged_at`, the relation has `staged_at` (when a run staged the fetch),
    and the result has its latest fetch's `staged_at` and `fetched_at` (its
    `snapshot_at`). An incremental run then takes only the entities with a fetch
    staged after its table's latest. When all of an entity's new fetches come after
    its stored latest one (the hourly case), they are folded into the stored row:
    the row is that fetch's version, first seen at its `version_at`, so the versions
    and their times come out as from all the fetches, which are not read. Otherwise
    (a late fetch, a fetch loaded again, a row without `fetched_at`) the entity is
    recomputed from all of its fetches. Reading all the fetches of the refetched
    entities grew by a day's fetches each day (0.12 s at day 1 of the scale bench,
    0.26-0.36 s at day 7); folded, 0.11-0.16 s from day 3 to day 7. -#}
{% macro current_versions(relation, key, columns, by_staged_at=false) -%}
{%- set folds = by_staged_at and is_incremental() -%}
{%- set listed = columns | join(', ') -%}
with
{%- if folds %}
new_fetches as (
    select {{ key }}, {{ listed }}, snapshot_at, staged_at
    from {{ relation }}
    where staged_at > (select max(staged_at) from {{ this }})
),

stored as (
    select {{ key }}, {{ listed }}, fetched_at, staged_at, version_at
    from {{ this }}
    where {{ key }} in (select {{ key }} from new_fetches)
),

recomputed_keys as (
    select distinct new_fetches.{{ key }}
    from new_fetches
    join stored on stored.{{ key }} = new_fetches.{{ key }}
    where stored.fetched_at is null or new_fetches.snapshot_at <= stored.fetched_at
),
{%- endif %}

fetches as (
    select
        *,
        hash(
            {%- for column in columns %}coalesce(cast({{ column }} as varchar), '')
            {%- if not loop.last %}, {% endif %}{% endfor -%}
        ) as version
    from (
        {%- if folds %}
        -- Folded: the stored row, as its latest fetch first seen at version_at...
        select {{ key }}, {{ listed }}, fetched_at as snapshot_at, staged_at, version_at as changed_at
        from stored
        where {{ key }} not in (select {{ key }} from recomputed_keys)
        union all
        -- ...then the new fetches.
        select {{ key }}, {{ listed }}, snapshot_at, staged_at, snapshot_at as changed_at
        from new_fetches
        where {{ key }} not in (select {{ key }} from recomputed_keys)
        union all
        -- Recomputed: all the fetches.
        select {{ key }}, {{ listed }}, snapshot_at, staged_at, snapshot_at as changed_at
        from {{ relation }}
        where {{ key }} in (select {{ key }} from recomputed_keys)
        {%- else %}
        select {{ key }}, {{ listed }}, snapshot_at,{% if by_staged_at %} staged_at,{% endif %} snapshot_at as changed_at
        from {{ relation }}
        {%- endif %}
    ) as fetched
),

changes as (
    select
        *,
        coalesce(version <> lag(version) over (partition by {{ key }} order by snapshot_at), true) as is_change
    from fetches
),

current_version as (
    select {{ key }}, max(changed_at) as version_at
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
    {%- if by_staged_at %},
    latest.snapshot_at as fetched_at
    {%- endif %}
from changes as latest
join current_version on current_version.{{ key }} = latest.{{ key }}
qualify row_number() over (partition by latest.{{ key }} order by latest.snapshot_at desc) = 1
{%- endmacro %}
