{#- Where a model with `schema='marts'` goes, by target (dbt's `target.name`):
    - `prod` (the Function App): the schema it names, `marts`, which `snowflake-setup`
      grants and the dashboards read;
    - any other target: dbt's own default, `<target schema>_marts` ("Custom schemas",
      docs.getdbt.com/docs/build/custom-schemas: it appends the custom schema to the
      target's "so that two dbt users won't accidentally overwrite each other's work").
      A dev run, locally or on Snowflake, never writes or reads production tables.
    Models without a schema go to the target's schema in every target. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
{%- if custom_schema_name is none -%}{{ target.schema }}
{%- elif target.name == 'prod' -%}{{ custom_schema_name | trim }}
{%- else -%}{{ target.schema }}_{{ custom_schema_name | trim }}
{%- endif -%}
{%- endmacro %}

{#- A model's relation as this target names it, for SQL that cannot use ref() or
    this: incremental predicates. dbt renders config() when it parses a model, where
    ref(), source() and this all name the model being parsed (measured with dbt 1.10:
    in model `b` of schema `marts`, `ref('a')` and `this` both rendered "main"."b"). -#}
{% macro model_relation(custom_schema_name, name) -%}
{{ generate_schema_name(custom_schema_name, none) | trim }}.{{ name }}
{%- endmacro %}
