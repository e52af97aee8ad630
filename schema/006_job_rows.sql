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
