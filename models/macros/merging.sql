{#- An `incremental_predicates` entry for a staging table merged from a raw table: a
    row the merge replaces is of the same slot as a new one, so it is no older than
    the oldest new slot, and the delete may skip the rest of the table. It names the
    tables directly because dbt renders config before it resolves source(), ref() or
    even this. -#}
{% macro only_new_slots_replaced(raw_table, staging_table) -%}
snapshot_at >= (select min({{ utc_timestamp(json_text('raw_json', '_snapshot_at')) }}) from {{ raw_table }}
    where loaded_at > (select max(loaded_at) from {{ staging_table }}))
{%- endmacro %}
