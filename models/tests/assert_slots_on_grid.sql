-- Every snapshot sits on the 15-minute extraction grid.
select snapshot_key, snapshot_at
from {{ ref('fact_stream_snapshots') }}
where extract(minute from snapshot_at) % 15 <> 0
   or extract(second from snapshot_at) <> 0
