-- New rows reach a GIN index through its pending list, which every search
-- reads in full until it is merged into the index. At the default limit
-- (gin_pending_list_limit, 4 MB: ~1,700 events' trigrams here) that read
-- alone cost ~5 ms of each search in this crate's benchmarks; at 256 kB it
-- is a fraction of a millisecond, and the merges it makes more frequent are
-- paid by writers, in the background of the request path.
ALTER INDEX audit_events_search SET (gin_pending_list_limit = 256);
