{#- The only SQL that differs between the warehouses; every model uses these. -#}

{#- A raw JSON column parsed once into a record of the named top-level fields.
    DuckDB parses the text into a struct (reading fields one by one would parse
    each document again per field); Snowflake's VARIANT is already parsed. -#}
{% macro json_record(column, fields) -%}
{%- if target.type == 'snowflake' -%}
{{ column }}
{%- else -%}
json_transform({{ column }}, '{ {%- for field in fields %}"{{ field }}": "VARCHAR"{% if not loop.last %}, {% endif %}{% endfor -%} }')
{%- endif -%}
{%- endmacro %}

{#- A field of a `json_record` as text (NULL when missing or JSON null). -#}
{% macro record_text(record, field) -%}
{%- if target.type == 'snowflake' -%}
{{ record }}:"{{ field }}"::varchar
{%- else -%}
{{ record }}."{{ field }}"
{%- endif -%}
{%- endmacro %}

{#- A field of a `json_record` holding an array or object, as JSON text; NULL when
    missing or JSON null (Snowflake keeps a JSON null as a VARIANT null, which
    to_json would spell 'null': strip_null_value makes it SQL NULL, as DuckDB has it). -#}
{% macro record_json(record, field) -%}
{%- if target.type == 'snowflake' -%}
to_json(strip_null_value({{ record }}:"{{ field }}"))
{%- else -%}
{{ record }}."{{ field }}"
{%- endif -%}
{%- endmacro %}

{#- One top-level field of a raw JSON column as text, without parsing the rest. -#}
{% macro json_text(column, field) -%}
{%- if target.type == 'snowflake' -%}
{{ column }}:"{{ field }}"::varchar
{%- else -%}
{{ column }} ->> '$.{{ field }}'
{%- endif -%}
{%- endmacro %}

{#- The slot a lake file holds, from its name (`…_20261123T2215Z….ndjson.gz`, the
    lake's contract); '' for a name without one. -#}
{% macro file_slot(column) -%}
coalesce({{ 'regexp_substr' if target.type == 'snowflake' else 'regexp_extract' }}({{ column }}, '[0-9]{8}T[0-9]{4}Z'), '')
{%- endmacro %}

{#- The statement's time, UTC, without zone: when a transform staged a row. -#}
{% macro utc_now() -%}
{%- if target.type == 'snowflake' -%}
sysdate()
{%- else -%}
make_timestamp(epoch_us(now()))
{%- endif -%}
{%- endmacro %}

{#- An RFC 3339 UTC string (`2026-11-23T22:15:00Z`) as a timestamp without zone. -#}
{% macro utc_timestamp(text) -%}
{%- if target.type == 'snowflake' -%}
to_timestamp_ntz({{ text }})
{%- else -%}
cast({{ text }} as timestamp)
{%- endif -%}
{%- endmacro %}

{#- Written between `name as` and the body of a CTE read more than once, so that it
    is computed once. DuckDB may inline such a CTE at each reference; one marked
    MATERIALIZED it never inlines (v2.0.0, src/optimizer/cte_inlining.cpp,
    CTEInlining::TryInlining). Snowflake's WITH has no such keyword
    (docs.snowflake.com/en/sql-reference/constructs/with). -#}
{% macro cte_materialized() -%}
{{ '' if target.type == 'snowflake' else 'materialized' }}
{%- endmacro %}

{#- The ISO day of the week of a date or time: 1 Monday to 7 Sunday. Snowflake's
    DAYOFWEEKISO follows ISO semantics whatever the session's WEEK_START ("not
    controlled by the WEEK_START and WEEK_OF_YEAR_POLICY session parameters", Date
    & time functions, docs.snowflake.com/en/sql-reference/functions-date-time), where
    DATE_TRUNC('week') and DAYOFWEEK do follow it; DuckDB's isodow is ISO. -#}
{% macro iso_weekday(expression) -%}
{{ 'dayofweekiso' if target.type == 'snowflake' else 'isodow' }}({{ expression }})
{%- endmacro %}

{#- A date `days` days after (before, when negative) a date. (DuckDB adds an INTEGER
    to a DATE, not a BIGINT such as isodow's.) -#}
{% macro add_days(day, days) -%}
{%- if target.type == 'snowflake' -%}
cast(dateadd(day, {{ days }}, {{ day }}) as date)
{%- else -%}
cast({{ day }} + cast({{ days }} as integer) as date)
{%- endif -%}
{%- endmacro %}

