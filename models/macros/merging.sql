{#- How incremental models find new rows, whatever order loads commit in.

    Raw rows carry the time their file was loaded (`loaded_at`). Snowpipe stamps it
    with the load's start (`METADATA$START_SCAN_TIME`) and commits later, and loads
    files in parallel and out of order, so a file can become visible after a newer
    one was transformed. "loaded_at above the last one seen" would skip it for good.

    Two rules make the selection exact:
    - A staging table takes the raw rows it has not staged yet (a ledger: staging
      rows keep their file's name and line number), looking back
      `late_load_window_hours` before its newest load time. A row that commits within
      that window of its load time is staged exactly once, however late it commits.
      The ledger is of rows, not files: Snowpipe commits a file in one or several
      transactions ("Loads are combined or split into a single or multiple
      transactions based on the number and size of the rows in each data file",
      Introduction to Snowpipe, docs.snowflake.com/en/user-guide/data-load-snowpipe-intro),
      so a run can see part of a file, and a ledger of file names would never take
      the rest. Snowflake documents loads "within a few minutes" of insertFiles; the
      window is an hour, and the reconciliation (`status`, the
      `assert_every_committed_row_reached_the_fact` test) names any slot a slower
      load would leave out.
    - Everything downstream selects by `staged_at`: the time the transform staged
      the row. Only the transform writes it, one run at a time, so it grows with
      every run and no row can arrive behind it.

    A row that an earlier run replaced (an older load of the same key: a slot's file
    loaded again under another name) is not in staging, so the ledger offers it
    again while it is in the window; `loses_to_a_staged_row` keeps it out.

    Looking back costs reading the window's file names and line numbers; rows are
    parsed and merged once, so an hourly run costs what it did. -#}

{#- The condition, on a raw table aliased `raw_rows`, for the rows `staging_table` has
    not staged: loaded within the window before its newest load and not among its
    rows there (by file name and line number: `METADATA$FILE_ROW_NUMBER`, "the row
    number for each record in the staged data file", Querying Metadata for Staged
    Files, docs.snowflake.com). Named tables, not relations: incremental predicates
    use it too. -#}
{% macro unstaged_rows(staging_table) -%}
{%- set since -%}
(select max(loaded_at) from {{ staging_table }}) - interval '{{ var("late_load_window_hours") }} hours'
{%- endset -%}
raw_rows.loaded_at > {{ since }}
    and not exists (
        select 1 from {{ staging_table }} as staged
        where staged.loaded_at > {{ since }}
            and staged.file_name = raw_rows.file_name
            and staged.file_row_number = raw_rows.file_row_number
    )
{%- endmacro %}

{#- The condition, on new rows aliased `candidate`, that `staging_table` already holds
    a later load of the same `keys`: later by load time, then file name, then line
    number, the order a staging model keeps the latest load by. Such a row was
    replaced in an earlier run and must not replace its replacement. -#}
{% macro loses_to_a_staged_row(staging_table, keys) -%}
exists (
    select 1 from {{ staging_table }} as staged
    where {% for key in keys %}staged.{{ key }} = candidate.{{ key }}
        and {% endfor %}(staged.loaded_at > candidate.loaded_at
            or (staged.loaded_at = candidate.loaded_at and staged.file_name > candidate.file_name)
            or (staged.loaded_at = candidate.loaded_at and staged.file_name = candidate.file_name
                and staged.file_row_number > candidate.file_row_number))
)
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
{{ incremental_target_column('snapshot_at') }} >= (select min({{ utc_timestamp(json_text('raw_json', '_snapshot_at')) }}) from {{ raw_table }} as raw_rows
    where {{ unstaged_rows(model_relation(staging_schema, staging_model)) }})
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
