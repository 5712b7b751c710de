-- Viewer counts are never negative.
select snapshot_key, viewer_count
from {{ ref('fact_stream_snapshots') }}
where viewer_count < 0
