{#- The analytics beyond the daily aggregates (rankings, the platform, concentration,
    saturation, schedules) count complete UTC days only: the days before the newest
    snapshot's. A day's figures then never move while it is filled in, rankings and
    rolling windows compare whole days, and the hourly run, which only adds to the
    current day, has nothing of theirs to rebuild: they change once a day, when a day
    completes, and when a late slot or a reload changes a day already counted. -#}

{#- The CTE `plan` of a model built on complete days:
    - `through`: the last complete day;
    - `rebuild_from`: the first day whose rows are built again. All days in a full
      build; in an incremental run the earliest day among `source`'s rows staged since
      the model's newest `staged_at` (a late slot, a reload, the day just completed),
      or the day after the last one the model built (`built_through`, its column),
      whichever comes first. Nothing is built when it is after `through`. -#}
{% macro complete_days_plan(source, built_through) -%}
plan as (
    select
        {{ add_days('latest.day', -1) }} as through,
        {% if is_incremental() -%}
        coalesce(
            {{ smaller('changed.day', add_days('built.day', 1)) }},
            cast('1970-01-01' as date)
        ) as rebuild_from
        {%- else -%}
        cast('1970-01-01' as date) as rebuild_from
        {%- endif %}
    from (select max(snapshot_date) as day from {{ ref('fact_stream_snapshots') }}) as latest
    {% if is_incremental() -%}
    cross join (
        select min(snapshot_date) as day from {{ ref(source) }}
        where staged_at > (select max(staged_at) from {{ this }})
    ) as changed
    cross join (select max({{ built_through }}) as day from {{ this }}) as built
    {%- endif %}
)
{%- endmacro %}

{#- The first day to build, from `plan`: a day after any data when there is nothing
    to build, so that `day >= ` it keeps no row and the warehouse skips every block
    (a NULL bound would make DuckDB read them all; see plan_bound). -#}
{% macro rebuild_bound() -%}
coalesce((select rebuild_from from plan where rebuild_from <= through), cast('9999-12-31' as date))
{%- endmacro %}

{#- The condition on a day column for the complete days a model builds. -#}
{% macro complete_days_to_build(column='snapshot_date') -%}
{{ column }} >= {{ rebuild_bound() }} and {{ column }} <= (select through from plan)
{%- endmacro %}

{#- The first day of a window of `days` ending at the last complete day, when there
    is something to build; else a day after any data, as rebuild_bound. -#}
{% macro window_bound(days) -%}
coalesce((select {{ add_days('through', 1 - days) }} from plan where rebuild_from <= through), cast('9999-12-31' as date))
{%- endmacro %}

{#- The Monday of a day's ISO week. -#}
{% macro week_start(day) -%}
{{ add_days(day, '1 - ' ~ iso_weekday(day)) }}
{%- endmacro %}

{#- The first day of a day's calendar month. -#}
{% macro month_start(day) -%}
cast(date_trunc('month', {{ day }}) as date)
{%- endmacro %}

{#- The hour of the week of a time, UTC: 0 is Monday 00:00-00:59, 167 Sunday 23:00. -#}
{% macro hour_of_week(time) -%}
({{ iso_weekday(time) }} - 1) * 24 + hour({{ time }})
{%- endmacro %}

{#- `rows` (a CTE of days in `snapshot_date`) once per period each day counts in: its
    ISO week, its month, and the rolling windows of `windows` holding it. -#}
{% macro in_periods(rows) -%}
select 'week' as period_kind, {{ week_start(rows ~ '.snapshot_date') }} as period_start, {{ rows }}.* from {{ rows }}
    union all
    select 'month' as period_kind, {{ month_start(rows ~ '.snapshot_date') }} as period_start, {{ rows }}.* from {{ rows }}
    union all
    select windows.period_kind, windows.period_start, {{ rows }}.* from {{ rows }}
    join windows on {{ rows }}.snapshot_date >= windows.period_start and {{ rows }}.snapshot_date <= windows.period_end
{%- endmacro %}

{#- The rankings of members (streamers, games, languages) by hours watched, per
    period: ISO weeks and calendar months (the current one to the last complete day),
    and the rolling 7 and 30 days ending at the last complete day. Each row carries
    the member's rank in the period before (the previous week, month or window) and
    the growth of its hours watched since.

    Reads the CTEs `plan` (complete_days_plan) and `member_days`: `member`,
    `snapshot_date`, `hours_watched`, `hours_streamed`, `peak_viewers`, `broadcasts`,
    `loaded_at`, `staged_at`, and with `audience` (games, languages) `channel`, one row
    per channel of the member's day, and `observed_days`: `snapshot_date`,
    `hours_observed` (the hours the pipeline saw; an audience's average viewers are
    over the whole period, a streamer's over its hours live, as the trackers have them).

    Which periods are written: every week and month from the first day to rebuild's
    on (a change in one moves the previous-rank columns of the next), and the current
    rolling windows. They are read from the month before that day's, so every period
    written has its previous one whole. -#}
{% macro rank_periods(member, audience) -%}
windows as (
    -- The rolling windows ending at the last complete day, and the ones before them.
    select '7d' as period_kind, {{ add_days('through', -6) }} as period_start, through as period_end from plan
    union all
    select '7d', {{ add_days('through', -13) }}, {{ add_days('through', -7) }} from plan
    union all
    select '30d', {{ add_days('through', -29) }}, through from plan
    union all
    select '30d', {{ add_days('through', -59) }}, {{ add_days('through', -30) }} from plan
),

member_periods as (
    {{ in_periods('member_days') }}
),

totals as (
    select
        period_kind,
        period_start,
        member,
        sum(hours_watched) as hours_watched,
        sum(hours_streamed) as hours_streamed,
        max(peak_viewers) as peak_viewers,
        cast(sum(broadcasts) as bigint) as broadcasts,
        {% if audience -%}
        count(distinct channel) as unique_channels,
        {% endif -%}
        max(loaded_at) as loaded_at,
        max(staged_at) as staged_at
    from member_periods
    group by period_kind, period_start, member
),

{% if audience -%}
observed_periods as (
    {{ in_periods('observed_days') }}
),

observed as (
    select period_kind, period_start, sum(hours_observed) as hours_observed
    from observed_periods
    group by period_kind, period_start
),
{%- endif %}

-- Read twice (each period, and as the period before another): computed once.
ranked as {{ cte_materialized() }} (
    select
        totals.*,
        -- Ties rank alike, and the next rank counts them (1, 1, 3).
        rank() over (partition by period_kind, period_start order by hours_watched desc) as rank
    from totals
),

periods as (
    select
        ranked.*,
        case period_kind
            when 'week' then {{ add_days('period_start', -7) }}
            when 'month' then {{ month_start(add_days('period_start', -1)) }}
            when '7d' then {{ add_days('period_start', -7) }}
            else {{ add_days('period_start', -30) }}
        end as previous_start,
        case period_kind
            when 'week' then {{ add_days('period_start', 6) }}
            when 'month' then {{ add_days(month_start(add_days('period_start', 31)), -1) }}
            when '7d' then {{ add_days('period_start', 6) }}
            else {{ add_days('period_start', 29) }}
        end as natural_end
    from ranked
)

select
    case when current_period.period_kind in ('week', 'month')
        then current_period.period_kind || '@' || cast(current_period.period_start as varchar)
        else current_period.period_kind
    end as period_key,
    case when current_period.period_kind in ('week', 'month')
        then current_period.period_kind || '@' || cast(current_period.period_start as varchar)
        else current_period.period_kind
    end || '@' || current_period.member as rank_key,
    current_period.period_kind,
    current_period.period_start,
    least(current_period.natural_end, plan.through) as period_end,
    current_period.natural_end <= plan.through as period_complete,
    current_period.member as {{ member }},
    current_period.hours_watched,
    current_period.hours_streamed,
    {% if audience -%}
    current_period.hours_watched / observed.hours_observed as avg_viewers,
    {%- else -%}
    current_period.hours_watched / current_period.hours_streamed as avg_viewers,
    {%- endif %}
    current_period.peak_viewers,
    current_period.broadcasts,
    {% if audience -%}
    current_period.unique_channels,
    {% endif -%}
    current_period.rank,
    previous_period.rank as previous_rank,
    previous_period.hours_watched as previous_hours_watched,
    case when previous_period.hours_watched > 0
        then 100 * (current_period.hours_watched - previous_period.hours_watched) / previous_period.hours_watched
    end as growth_pct,
    current_period.loaded_at,
    current_period.staged_at
from periods as current_period
cross join plan
{% if audience -%}
join observed
    on observed.period_kind = current_period.period_kind
    and observed.period_start = current_period.period_start
{% endif -%}
left join ranked as previous_period
    on previous_period.period_kind = current_period.period_kind
    and previous_period.period_start = current_period.previous_start
    and previous_period.member = current_period.member
where (current_period.period_kind = 'week' and current_period.period_start >= {{ week_start('plan.rebuild_from') }})
    or (current_period.period_kind = 'month' and current_period.period_start >= {{ month_start('plan.rebuild_from') }})
    or (current_period.period_kind = '7d' and current_period.period_start = {{ add_days('plan.through', -6) }})
    or (current_period.period_kind = '30d' and current_period.period_start = {{ add_days('plan.through', -29) }})
{%- endmacro %}

{#- The first day a ranking reads: the month before the first day to rebuild's, and
    the rolling windows before the current ones; a day after any data when there is
    nothing to build. -#}
{% macro ranking_read_bound() -%}
coalesce(
    (select least({{ month_start(add_days(month_start('rebuild_from'), -1)) }}, {{ add_days('through', -59) }})
     from plan where rebuild_from <= through),
    cast('9999-12-31' as date)
)
{%- endmacro %}

{#- The whole query of an audience's ranking (a game, `game_id`, whose days are in
    agg_game_daily; a language, `language`, in agg_language_daily): its channels'
    days from agg_channel_game_daily, its daily peaks from `daily`, and the hours the
    pipeline observed (platform_daily), ranked by rank_periods. -#}
{% macro rank_audience(member, daily) -%}
with
{{ complete_days_plan('agg_channel_game_daily', 'period_end') }},

member_days as (
    select
        channels.{{ member }} as member,
        channels.snapshot_date,
        channels.user_id as channel,
        {{ hours('channels.viewer_total') }} as hours_watched,
        {{ hours('channels.snapshots') }} as hours_streamed,
        daily.peak_viewers,
        channels.broadcasts,
        channels.loaded_at,
        channels.staged_at
    from {{ ref('agg_channel_game_daily') }} as channels
    join {{ ref(daily) }} as daily
        on daily.{{ member }} = channels.{{ member }} and daily.snapshot_date = channels.snapshot_date
    where channels.snapshot_date >= {{ ranking_read_bound() }} and channels.snapshot_date <= (select through from plan)
        and daily.snapshot_date >= {{ ranking_read_bound() }}
),

observed_days as (
    select snapshot_date, {{ hours('slots') }} as hours_observed
    from {{ ref('platform_daily') }}
    where snapshot_date >= {{ ranking_read_bound() }} and snapshot_date <= (select through from plan)
),

{{ rank_periods(member, audience=true) }}
{%- endmacro %}
