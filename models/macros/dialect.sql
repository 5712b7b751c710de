{#- The only SQL that differs between the warehouses; every model uses these. -#}

{#- A top-level JSON field as text (NULL when missing or JSON null). -#}
{% macro json_text(column, field) -%}
{%- if target.type == 'snowflake' -%}
{{ column }}:"{{ field }}"::varchar
{%- else -%}
({{ column }} ->> '$.{{ field }}')
{%- endif -%}
{%- endmacro %}

{#- A top-level JSON field kept as JSON text (arrays, objects). -#}
{% macro json_raw(column, field) -%}
{%- if target.type == 'snowflake' -%}
to_json({{ column }}:"{{ field }}")
{%- else -%}
json_extract({{ column }}, '$.{{ field }}')::varchar
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
