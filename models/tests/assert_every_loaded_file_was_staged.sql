{{ config(severity='warn') }}

-- Every row loaded into RAW in the last day reached staging, and so the marts.
-- Staging takes the rows it has not staged within `late_load_window_hours` of its
-- newest load time (macros/merging.sql); a file named here had rows become visible
-- later than that (a slow Snowpipe load, or the last of its transactions), so they are
-- in RAW but in no mart. Rebuild from RAW with `transform --full-refresh`. Rows a
-- later load of the same slot replaced (a reload under another name) are not missing,
-- so a file with another file of its slot staged is checked by that file.
{%- for raw, staged in [('raw_streams', 'stg_streams'), ('raw_users', 'stg_users')] %}
{%- set raw_relation = source('twitch', raw) %}
{%- set since -%}
(select max(loaded_at) from {{ raw_relation }}) - interval '1 day'
{%- endset %}
select '{{ raw }}' as raw_table, loaded.file_name, loaded.rows_loaded, coalesce(staged_files.rows_staged, 0) as rows_staged
from (
    select file_name, count(*) as rows_loaded
    from {{ raw_relation }}
    where loaded_at >= {{ since }}
    group by file_name
) as loaded
left join (
    select file_name, count(*) as rows_staged
    from {{ ref(staged) }}
    where loaded_at >= {{ since }}
    group by file_name
) as staged_files on staged_files.file_name = loaded.file_name
where coalesce(staged_files.rows_staged, 0) < loaded.rows_loaded
    and not exists (
        select 1
        from (select distinct file_name from {{ ref(staged) }} where loaded_at >= {{ since }}) as other
        where other.file_name <> loaded.file_name
            and {{ file_slot('other.file_name') }} = {{ file_slot('loaded.file_name') }}
    )
{% if not loop.last %}union all{% endif %}
{%- endfor %}
