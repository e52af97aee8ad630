-- 003_retention: pruning of finished job rows and old breaker history.
--
-- job_status grows by one row per job. Finished rows are only needed for
-- idempotency (a redelivered record is answered from its row), for
-- dashboards and for operators. provisiond_prune() deletes one batch of
-- finished rows older than a cutoff and returns how many it deleted; the
-- caller (provctl, cron) calls it again until it returns 0. One batch per
-- call keeps every transaction short: a function cannot commit midway, and
-- one huge DELETE would hold row locks and bloat WAL in one go.
--
-- Rows locked by a worker right now are skipped (SKIP LOCKED), never
-- waited for. Unfinished rows (received, running, retry_wait) are never
-- touched. Dead rows are kept unless include_dead: they wait for an
-- operator's replay.
--
-- Pick older_than longer than the jobs topic's Kafka retention plus the
-- BSS's retry window: a record redelivered after its row was pruned would
-- run again.

CREATE FUNCTION provisiond_prune(older_than interval,
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
    SELECT job_id
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
   WHERE j.job_id = v.job_id;
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END;
$$;

COMMENT ON FUNCTION provisiond_prune(interval, integer, boolean) IS
  'Deletes one batch of finished job_status rows older than older_than '
  '(dead ones only with include_dead); returns the rows deleted. Call '
  'until it returns 0.';

CREATE FUNCTION provisiond_prune_breaker_events(older_than interval,
                                                batch integer DEFAULT 10000)
RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
  n integer;
BEGIN
  IF older_than IS NULL OR older_than < interval '1 hour' THEN
    RAISE EXCEPTION 'provisiond_prune_breaker_events: older_than must be at least 1 hour (got %)',
      older_than USING ERRCODE = '22023';
  END IF;
  IF batch IS NULL OR batch < 1 OR batch > 100000 THEN
    RAISE EXCEPTION 'provisiond_prune_breaker_events: batch must be 1..100000 (got %)',
      batch USING ERRCODE = '22023';
  END IF;
  DELETE FROM breaker_events
   WHERE id IN (SELECT id FROM breaker_events
                 WHERE at < now() - older_than
                 ORDER BY id
                 LIMIT batch);
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END;
$$;

-- What a prune would take, for the operator's dry run and the dashboard.
CREATE VIEW job_retention_candidates AS
  SELECT state, count(*) AS jobs, min(finished_at) AS oldest_finished_at
    FROM job_status
   WHERE finished_at IS NOT NULL
   GROUP BY state;
