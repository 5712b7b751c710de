-- Viewer counts are never negative (in the rows of recent runs: see loaded_recently).
select slot_stream_key, viewer_count
from {{ ref('fact_stream_snapshots') }}
where viewer_count < 0
  and {{ loaded_recently(ref('fact_stream_snapshots')) }}
