-- 005_key_lookup: one index for "is an earlier job of this key unfinished?",
-- asked by every claim and by the due-job scan.
--
-- The partial index of 001 (state IN the unfinished states) lost to the
-- state index in the planner's eyes: a claim then scanned every job in
-- flight of its tenant (1-7 ms each; worker throughput fell fourfold).
-- The queries now test the state with NOT IN, which no index serves, so
-- this (tenant, ordering_key) index is the only way in.
CREATE INDEX job_status_tenant_key_all_idx ON job_status (tenant, ordering_key)
  WHERE ordering_key IS NOT NULL;
DROP INDEX job_status_key_idx;
