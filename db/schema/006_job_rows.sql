-- 006_job_rows: job ids are unique per tenant.
--
-- A job id is the sender's idempotency key, and senders are tenants: one
-- namespace for all of them let one tenant's id swallow another's job (the
-- second job was answered with the first one's reply). The key is now
-- (job_id, tenant), in that order so that a look-up by id alone (provctl
-- status) is still served by the primary key. Within one tenant, a record
-- whose id names a different job (service, op or payload differ) is
-- refused by the worker as invalid_job "id reused".

ALTER TABLE job_status DROP CONSTRAINT job_status_pkey;
ALTER TABLE job_status ADD PRIMARY KEY (job_id, tenant);

-- Replays name their job by (job_id, tenant) too. Rows written before this
-- migration had globally unique ids: their tenant is their job's.
ALTER TABLE job_replays ADD COLUMN tenant text;
UPDATE job_replays r SET tenant = j.tenant
  FROM job_status j WHERE j.job_id = r.job_id;

-- Retention deletes by the new key.
CREATE OR REPLACE FUNCTION provisiond_prune(older_than interval,
                                            batch integer DEFAULT 10000,
                                            include_dead boolean DEFAULT false)
RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
  n integer;
BEGIN
  IF older_than IS NULL OR older_than < interval '1 hour' THEN
    RAISE EXCEPTION 'provisiond_prune: older_than must be at least 1 hour (got %)',
      older_than USING ERRCODE = '22023';
  END IF;
  IF batch IS NULL OR batch < 1 OR batch > 100000 THEN
    RAISE EXCEPTION 'provisiond_prune: batch must be 1..100000 (got %)', batch
      USING ERRCODE = '22023';
  END IF;
  WITH victims AS (
    SELECT job_id, tenant
      FROM job_status
     WHERE finished_at IS NOT NULL
       AND finished_at < now() - older_than
       AND (state IN ('succeeded', 'failed')
            OR (include_dead AND state = 'dead'))
     ORDER BY finished_at
     LIMIT batch
       FOR UPDATE SKIP LOCKED)
  DELETE FROM job_status j
   USING victims v
   WHERE j.job_id = v.job_id AND j.tenant = v.tenant;
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END;
$$;

-- Kafka keys and correlation ids are bytes. As text, PostgreSQL refused a
-- key or correlation-id that was not UTF-8 (or held a NUL byte), and the
-- (tenant, ordering_key) btree refused a key past ~2,700 bytes: the job was
-- dead-lettered as 'internal' with no row. They are stored as bytea, byte
-- for byte, and keys are indexed by their SHA-256 (32 bytes whatever the
-- key), kept in a generated column: the claim and the due-job scan look a
-- key up with ordering_key_hash = sha256(<key>) AND ordering_key = <key>.
-- A column rather than an index on the expression: the planner keeps
-- statistics for a column, and with the expression's default estimate it
-- preferred scanning every unfinished job to probing the index once per
-- parked job. (Header values stay in the headers jsonb, as a string when
-- UTF-8 text without a NUL byte, else {"hex": "..."}.)
DROP VIEW parked_jobs;
DROP INDEX job_status_tenant_key_all_idx;
ALTER TABLE job_status
  ALTER COLUMN ordering_key TYPE bytea USING convert_to(ordering_key, 'UTF8'),
  ALTER COLUMN correlation_id TYPE bytea USING convert_to(correlation_id, 'UTF8');
ALTER TABLE job_status
  ADD COLUMN ordering_key_hash bytea
      GENERATED ALWAYS AS (sha256(ordering_key)) STORED;
CREATE INDEX job_status_tenant_key_hash_idx
  ON job_status (tenant, ordering_key_hash)
  WHERE ordering_key_hash IS NOT NULL;

-- Bytes as people read them: the text when they are UTF-8 (without a NUL
-- byte), else PostgreSQL's own bytea notation, '\x' and hex. For views,
-- dashboards and provctl; never compare or join on it.
CREATE FUNCTION provisiond_bytes_text(b bytea)
RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT
AS $$
BEGIN
  RETURN convert_from(b, 'UTF8');
EXCEPTION WHEN character_not_in_repertoire OR untranslatable_character THEN
  RETURN '\x' || encode(b, 'hex');
END;
$$;

CREATE VIEW parked_jobs AS
  SELECT job_id, tenant, service, op,
         provisiond_bytes_text(ordering_key) AS ordering_key, retry_reason,
         breaker_state, runs, reached, attempts, error_class, error_message,
         next_attempt_at, deadline, received_at
    FROM job_status
   WHERE state = 'retry_wait';

-- A replay runs under a fresh deadline by default (provctl dlq replay; a
-- job dead-lettered for its deadline died again at once when replayed with
-- it): the replay time plus the job's own budget. The deadline a replay
-- runs under is recorded with it; fresh_deadline says it was given anew
-- (false: --keep-deadline, the job's deadline as it was), and a later
-- replay takes the budget from the last fresh one, so it does not grow.
ALTER TABLE job_replays
  ADD COLUMN deadline timestamptz,
  ADD COLUMN fresh_deadline boolean NOT NULL DEFAULT false;
