{#- Rows merged within a day of the table's newest load. The singular tests of the
    history tables, and the fact's relationships tests, check these: a row never
    changes after the run that merged it, and every run's rows fall within that day
    (a backfill's too, as they are loaded at once), so each row is checked once, and
    a run's checks cost what its new rows do. The same condition is spelled out in
    the schema file's `where` configs, where dbt allows no macros. -#}
{% macro loaded_recently(relation) -%}
loaded_at >= (select max(loaded_at) from {{ relation }}) - interval '1 day'
{%- endmacro %}
