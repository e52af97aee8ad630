-- 004_retries: durable retries. A run that could not reach an outcome
-- because the service was unavailable parks the job in 'retry_wait'; any
-- worker claims it when next_attempt_at comes. `reached` counts the runs
-- that actually sent a request, so time spent behind an open breaker or a
-- Retry-After never uses up a job's attempts.

ALTER TABLE job_status ADD COLUMN reached integer NOT NULL DEFAULT 0;

-- The due-job scan: parked jobs by due time (job_status_next_attempt_idx,
-- from 001) and runs whose lease ran out.
CREATE INDEX job_status_lease_idx ON job_status (lease_until)
  WHERE state = 'running';

CREATE VIEW parked_jobs AS
  SELECT job_id, tenant, service, op, ordering_key, retry_reason,
         breaker_state, runs, reached, attempts, error_class, error_message,
         next_attempt_at, deadline, received_at
    FROM job_status
   WHERE state = 'retry_wait';
