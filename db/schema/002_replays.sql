-- 002_replays: lineage of dead-letter replays (provctl dlq replay).
--
-- A replay moves a dead job back to 'received' and records who replayed
-- it, when, and from which dead-letter record, in the same statement; the
-- record is produced only after that commit. job_replays keeps every
-- replay (one row each); job_status keeps the latest for dashboards and
-- `provctl dlq list`.

ALTER TABLE job_status
  ADD COLUMN replay_count       integer     NOT NULL DEFAULT 0,
  ADD COLUMN last_replay_id     bigint,
  ADD COLUMN last_replayed_at   timestamptz,
  ADD COLUMN last_replayed_by   text,
  -- producing | produced | produce_failed: whether the replayed record
  -- reached Kafka (the job's own outcome is in state as usual)
  ADD COLUMN last_replay_status text
             CHECK (last_replay_status IN ('producing', 'produced',
                                           'produce_failed'));

CREATE TABLE job_replays (
  id             bigserial   PRIMARY KEY,
  job_id         text,                -- NULL: a record without a usable id
  replayed_at    timestamptz NOT NULL DEFAULT now(),
  replayed_by    text        NOT NULL,
  dlq_topic      text,                -- where the replayed record came from
  dlq_partition  integer,             -- NULL with dlq_offset: taken from the
  dlq_offset     bigint,              -- job row (dead letter not found)
  target_topic   text        NOT NULL,
  had_row        boolean     NOT NULL, -- false: never reached PostgreSQL
  status         text        NOT NULL
                 CHECK (status IN ('producing', 'produced', 'produce_failed')),
  error          text
);
CREATE INDEX job_replays_job_idx ON job_replays (job_id, replayed_at);
CREATE INDEX job_status_dead_idx ON job_status (finished_at)
  WHERE state = 'dead';
