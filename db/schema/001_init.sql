-- 001_init: the job-status table dashboards read, and the fleet-wide
-- circuit-breaker state with its history.
--
-- Every write provisiond makes is an idempotent upsert keyed by job_id or
-- by (service, tenant, endpoint), so replaying a write whose outcome was
-- unknown (connection lost mid-flight) is always safe.

CREATE TABLE job_status (
  job_id          text        PRIMARY KEY,           -- the idempotency key
  tenant          text        NOT NULL,
  service         text        NOT NULL,
  op              text        NOT NULL,
  ordering_key    text,                              -- Kafka key
  state           text        NOT NULL
                  CHECK (state IN ('received', 'running', 'retry_wait',
                                   'succeeded', 'failed', 'dead')),
  attempts        integer     NOT NULL DEFAULT 0,    -- HTTP attempts, all runs
  runs            integer     NOT NULL DEFAULT 0,    -- executions started
  -- one element per failed run: {"at","class","message","http_status","attempts"}
  errors          jsonb       NOT NULL DEFAULT '[]'::jsonb,
  error_class     text,                              -- last error, for filters
  error_message   text,
  http_status     integer,
  retry_reason    text,                              -- why retry_wait
  source_topic    text        NOT NULL,
  source_partition integer    NOT NULL,
  source_offset   bigint      NOT NULL,
  reply_topic     text,
  correlation_id  text,
  content_type    text        NOT NULL DEFAULT 'application/msgpack',
  payload         bytea       NOT NULL,              -- the record value, byte for byte
  headers         jsonb       NOT NULL DEFAULT '[]'::jsonb, -- [[name, value-or-null], ...]
  received_at     timestamptz NOT NULL DEFAULT now(),
  started_at      timestamptz,
  finished_at     timestamptz,
  next_attempt_at timestamptz,
  deadline        timestamptz,
  lease_until     timestamptz,                       -- a run in progress elsewhere
  worker_id       text,
  breaker_state   text,                              -- breaker seen at decision time
  result          jsonb,
  reply           bytea,                             -- the encoded reply, republished on redelivery
  dlq_topic       text,
  updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX job_status_state_idx      ON job_status (state, tenant, service);
CREATE INDEX job_status_received_idx   ON job_status (received_at);
CREATE INDEX job_status_finished_idx   ON job_status (finished_at) WHERE finished_at IS NOT NULL;
CREATE INDEX job_status_next_attempt_idx ON job_status (next_attempt_at)
  WHERE state = 'retry_wait';
CREATE INDEX job_status_key_idx        ON job_status (tenant, ordering_key)
  WHERE state IN ('received', 'running', 'retry_wait');

CREATE TABLE breaker_state (
  service       text        NOT NULL,
  tenant        text        NOT NULL,
  endpoint      text        NOT NULL,                -- base URL
  state         text        NOT NULL
                CHECK (state IN ('closed', 'open', 'half_open',
                                 'forced_open', 'disabled')),
  open_until    timestamptz,                         -- when half-open may be tried
  reason        text,
  changed_by    text,                                -- worker id or operator
  changed_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (service, tenant, endpoint)
);

CREATE TABLE breaker_events (
  id            bigserial   PRIMARY KEY,
  service       text        NOT NULL,
  tenant        text        NOT NULL,
  endpoint      text        NOT NULL,
  from_state    text        NOT NULL,
  to_state      text        NOT NULL,
  reason        text,
  changed_by    text,
  at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX breaker_events_key_idx ON breaker_events (service, tenant, at);

-- Dashboard views -----------------------------------------------------------

CREATE VIEW job_counts AS
  SELECT tenant, service, state, count(*) AS jobs
    FROM job_status
   GROUP BY tenant, service, state;

CREATE VIEW job_throughput_per_minute AS
  SELECT date_trunc('minute', finished_at) AS minute,
         tenant, service,
         count(*) FILTER (WHERE state = 'succeeded') AS succeeded,
         count(*) FILTER (WHERE state = 'failed')    AS failed,
         count(*) FILTER (WHERE state = 'dead')      AS dead,
         percentile_cont(0.5) WITHIN GROUP
           (ORDER BY extract(epoch FROM finished_at - received_at) * 1000)
           AS p50_ms,
         percentile_cont(0.99) WITHIN GROUP
           (ORDER BY extract(epoch FROM finished_at - received_at) * 1000)
           AS p99_ms
    FROM job_status
   WHERE finished_at IS NOT NULL
   GROUP BY 1, 2, 3;

CREATE VIEW oldest_waiting_job AS
  SELECT tenant, service,
         min(received_at) AS oldest_received_at,
         count(*) AS waiting
    FROM job_status
   WHERE state IN ('received', 'running', 'retry_wait')
   GROUP BY tenant, service;
