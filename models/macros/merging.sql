{#- How incremental models find new rows, whatever order loads commit in.

    Raw rows carry the time their file was loaded (`loaded_at`). Snowpipe stamps it
    with the load's start (`METADATA$START_SCAN_TIME`) and commits later, and loads
    files in parallel and out of order, so a file can become visible after a newer
    one was transformed. "loaded_at above the last one seen" would skip it for good.

    Two rules make the selection exact:
    - A staging table takes the files it has not staged yet (a ledger: staging rows
      keep their file's name), looking back `late_load_window_hours` before its
      newest load time. A file that commits within that window of its load time is
      staged exactly once, however late it commits. Snowflake documents loads
      "within a few minutes" of insertFiles; the window is an hour, and the
      reconciliation (`status`, the `assert_every_committed_row_reached_the_fact`
      test) names any slot a slower load would leave out.
    - Everything downstream selects by `staged_at`: the time the transform staged
      the row. Only the transform writes it, one run at a time, so it grows with
      every run and no row can arrive behind it.

    Looking back costs reading the window's file names; rows are parsed and merged
    once, so an hourly run costs what it did. -#}

{#- The condition, on a raw table, for rows of files `staging_table` has not staged:
    loaded within the window before its newest load and not among its files there.
    Named tables, not relations: incremental predicates use it too. -#}
{% macro unstaged_files(staging_table) -%}
{%- set since -%}
(select max(loaded_at) from {{ staging_table }}) - interval '{{ var("late_load_window_hours") }} hours'
{%- endset -%}
loaded_at > {{ since }}
    and file_name not in (select distinct file_name from {{ staging_table }} where loaded_at > {{ since }})
{%- endmacro %}

{#- The target's column `name` in an incremental predicate, qualified as the adapter's
    SQL names the target. dbt-snowflake writes delete+insert and merge with dbt-adapters'
    default macros, which alias the target `DBT_INTERNAL_DEST` (a bare name would be
    ambiguous in a MERGE, where the new rows have the same columns). dbt-duckdb's own
    delete+insert (`duckdb__get_delete_insert_merge_sql`) leaves a single-key target
    unaliased, so on DuckDB the name stays bare. -#}
{% macro incremental_target_column(name) -%}
{{ 'DBT_INTERNAL_DEST.' if target.type == 'snowflake' else '' }}{{ name }}
{%- endmacro %}

{#- An `incremental_predicates` entry for a staging model merged from a raw table: a
    row the merge replaces is of the same slot as a new one, so it is no older than
    the oldest new slot, and the delete may skip the rest of the table (on Snowflake:
    see on_snowflake). The raw table is a source (the same schema in every target);
    the staging model is named through `model_relation`, as config() cannot use
    this. -#}
{% macro only_new_slots_replaced(raw_table, staging_schema, staging_model) -%}
{{ incremental_target_column('snapshot_at') }} >= (select min({{ utc_timestamp(json_text('raw_json', '_snapshot_at')) }}) from {{ raw_table }}
    where {{ unstaged_files(model_relation(staging_schema, staging_model)) }})
{%- endmacro %}

{#- How far back a broadcast's row (fct_broadcasts) can start, for broadcasts with a
    snapshot among the rows aggregated here (a `select ... from` the new snapshots).
    Helix's started_at is "when the broadcast began"
    (dev.twitch.tv/docs/api/reference#get-streams), the same in each of its
    snapshots, and a snapshot is at most a slot earlier (a stream starting seconds
    after its slot began): the row's first_seen_at is later than a day before any of
    its started_at. Reads and deletes of those rows then skip the table's older blocks
    (by their min/max), and stay flat as history grows. A snapshot without started_at
    gives no bound: then the whole table is read. -#}
{% macro touched_broadcasts_from() -%}
case when count(*) = count(started_at) then min(started_at) - interval '1 day'
    else cast('0001-01-01' as timestamp) end
{%- endmacro %}

{#- `predicates` on Snowflake, none on DuckDB: the incremental predicates of a model
    whose delete+insert key starts with `snapshot_at`. DuckDB finds the rows to
    replace without them: since 1.1 a hash join pushes the min and max of its new
    rows' keys into the scan of the target ("Dynamic Filter Pushdown from Joins",
    duckdb.org/2024/09/09/announcing-duckdb-110.html), and the scan skips the row
    groups whose `snapshot_at` lies outside them (rows are stored in time order).
    Measured on a week at 5,000 streams a slot: stg_streams' delete took 1.6 ms so,
    48 ms with its predicate (which parses the new rows' JSON again) and 99 ms keyed
    on the text `slot_stream_key` (text keeps only a prefix in the min/max). Snowflake
    documents pruning by a query's filters ("Micro-partitions & Data Clustering",
    docs.snowflake.com/en/user-guide/tables-clustering-micropartitions), which a
    `where (key) in (select ...)` delete is not, so there the predicates stay. -#}
{% macro on_snowflake(predicates) -%}
{{ return(predicates if target.type == 'snowflake' else []) }}
{%- endmacro %}
