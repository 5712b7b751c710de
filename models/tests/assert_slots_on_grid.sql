-- Every snapshot sits on the 15-minute extraction grid (in the rows of recent runs:
-- see loaded_recently).
select slot_stream_key, snapshot_at
from {{ ref('fact_stream_snapshots') }}
where (extract(minute from snapshot_at) % 15 <> 0 or extract(second from snapshot_at) <> 0)
  and {{ loaded_recently(ref('fact_stream_snapshots')) }}
