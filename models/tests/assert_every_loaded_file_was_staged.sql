{{ config(severity='warn') }}

-- Every file loaded into RAW in the last day reached staging, and so the marts.
-- Staging takes the files it has not staged within `late_load_window_hours` of its
-- newest load time (macros/merging.sql); a file named here became visible later than
-- that (a slow Snowpipe load), so its rows are in RAW but in no mart. Rebuild from
-- RAW with `transform --full-refresh`. A file whose rows were all replaced by a later
-- load of the same slot (a reload under another name) is not missing, so it is
-- checked by its slot.
{%- for raw, staged in [('raw_streams', 'stg_streams'), ('raw_users', 'stg_users')] %}
{%- set raw_relation = source('twitch', raw) %}
{%- set since -%}
(select max(loaded_at) from {{ raw_relation }}) - interval '1 day'
{%- endset %}
select '{{ raw }}' as raw_table, file_name, rows_loaded
from (
    select file_name, count(*) as rows_loaded
    from {{ raw_relation }}
    where loaded_at >= {{ since }}
    group by file_name
) as loaded
-- File names compared as sets (a day holds a few hundred files and millions of rows).
where file_name not in (select distinct file_name from {{ ref(staged) }} where loaded_at >= {{ since }})
    and {{ file_slot('file_name') }} not in (
    select {{ file_slot('file_name') }}
    from (select distinct file_name from {{ ref(staged) }} where loaded_at >= {{ since }}) as staged_files
)
{% if not loop.last %}union all{% endif %}
{%- endfor %}
