{#- Audience metrics as TwitchTracker-style sites define them, per slot interval:
    hours watched = sum of viewer_count x interval; hours streamed = snapshots x interval;
    average viewers = hours watched / hours streamed. -#}

{% macro hours(expression) -%}
cast({{ expression }} as double) * {{ var('snapshot_interval_hours') }}
{%- endmacro %}

{#- Which days a daily aggregate builds: all of them, or in an incremental run the
    days from the earliest that snapshots staged since the last run fall on. Days in
    between come out the same as before; a plain comparison (not `in (...)`) lets
    the warehouse skip the older part of the fact unread. `column` is the day, or a
    time on it, of the rows to keep. -#}
{% macro days_to_build(column='snapshot_date') -%}
{%- if is_incremental() -%}
{{ column }} >= (
    select min(snapshot_date) from {{ ref('fact_stream_snapshots') }}
    where staged_at > (select max(staged_at) from {{ this }})
)
{%- else -%}
1 = 1
{%- endif -%}
{%- endmacro %}

{#- The days a folding aggregate (see agg_streamer_daily) rebuilds from the fact: all
    of them, or in an incremental run that cannot fold, the days from the earliest
    new snapshot's (none when it folds). Reads the model's `plan`. -#}
{% macro days_to_rebuild(column) -%}
{%- if is_incremental() -%}
{{ column }} >= {{ plan_bound('first_new_date', 'not folds', 'date') }}
{%- else -%}
1 = 1
{%- endif -%}
{%- endmacro %}

{#- `expression` (of `type`) from a folding model's `plan` when `case` holds, else a
    day after any data, so that `column >= ` it keeps no row. Not NULL, which keeps none:
    DuckDB cannot skip a table's blocks by a NULL bound and reads all of them
    (measured: every hourly run of agg_streamer_daily read all of fct_broadcasts, 5.9M
    rows and 0.11 s at a week of the full catalog, for a subquery that keeps none). -#}
{% macro plan_bound(expression, case, type) -%}
coalesce((select {{ expression }} from plan where {{ case }}), cast('9999-12-31' as {{ type }}))
{%- endmacro %}

{#- A daily aggregate's key: the day, then the member it counts (`user_id`, `game_id`,
    `language`). Day first, so keys sort by day as the table's rows lie: the unique
    test of an hourly run looks for the keys it merged between their least and
    greatest, which then span the day or two rebuilt, and the warehouse skips the
    other days' blocks (measured at a week of the full catalog: member first, the test
    read all 2.4M rows of agg_streamer_daily each hour, 0.25-0.32 s, growing by a
    day's 300,000 every day). -#}
{% macro day_key(member, day='snapshot_date') -%}
cast({{ day }} as varchar) || '@' || {{ member }}
{%- endmacro %}

{#- A count of slots, or a sum of viewers over slots, back from the hours `hours()`
    made of it. The division is exact to far below one half, so rounding gives back
    the integer, and hours computed again from it equal a full build's. -#}
{% macro from_hours(column) -%}
cast(round({{ column }} / {{ var('snapshot_interval_hours') }}) as bigint)
{%- endmacro %}

{#- The smaller of two values where either may be NULL (not both), as `larger`. -#}
{% macro smaller(a, b) -%}
least(coalesce({{ a }}, {{ b }}), coalesce({{ b }}, {{ a }}))
{%- endmacro %}

{#- The larger of two values where either may be NULL (not both): Snowflake's
    greatest() is NULL when any argument is. -#}
{% macro larger(a, b) -%}
greatest(coalesce({{ a }}, {{ b }}), coalesce({{ b }}, {{ a }}))
{%- endmacro %}

{#- Daily audience of a dimension (game, language) from the snapshot fact.
    Peaks are of concurrent totals within one slot; averages are over every slot the
    pipeline observed that day, so a game missing from a slot counts as zero there. -#}
{% macro daily_audience(dimension) -%}
with per_slot as (
    select
        {{ dimension }},
        snapshot_date,
        snapshot_at,
        sum(viewer_count) as viewers,
        count(*) as channels,
        max(loaded_at) as loaded_at,
        max(staged_at) as staged_at
    from {{ ref('fact_stream_snapshots') }}
    where {{ dimension }} is not null and {{ days_to_build() }}
    group by {{ dimension }}, snapshot_date, snapshot_at
),

observed as (
    select snapshot_date, count(distinct snapshot_at) as slots
    from {{ ref('fact_stream_snapshots') }}
    where {{ days_to_build() }}
    group by snapshot_date
)

select
    {{ day_key('per_slot.' ~ dimension, 'per_slot.snapshot_date') }} as day_key,
    per_slot.{{ dimension }},
    per_slot.snapshot_date,
    {{ hours('sum(per_slot.viewers)') }} as hours_watched,
    {{ hours('sum(per_slot.channels)') }} as hours_streamed,
    max(per_slot.viewers) as peak_viewers,
    cast(sum(per_slot.viewers) as double) / observed.slots as avg_viewers,
    max(per_slot.channels) as peak_channels,
    cast(sum(per_slot.channels) as double) / observed.slots as avg_channels,
    cast(sum(per_slot.viewers) as double) / sum(per_slot.channels) as viewer_ratio,
    max(per_slot.loaded_at) as loaded_at,
    max(per_slot.staged_at) as staged_at
from per_slot
join observed on observed.snapshot_date = per_slot.snapshot_date
group by per_slot.{{ dimension }}, per_slot.snapshot_date, observed.slots
{%- endmacro %}
