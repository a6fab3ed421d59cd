-- 0001_init: jobs, their attempt history and their lifecycle events.
--
-- Every timestamp is INTEGER microseconds since the Unix epoch (UTC); the backend
-- converts to aware datetimes at its boundary. Every transition statement sets
-- jobs.state_changed_at to its "now", which is how the triggers below stamp the event
-- they append without a second round trip.
--
-- jobs.error is the summary of the latest attempt's error: set when an attempt ends with
-- one (finish with an error, lease expired), cleared when an attempt ends without one
-- and by a manual retry, kept while the job waits or runs again.

CREATE TABLE jobs (
    id               TEXT PRIMARY KEY,  -- UUIDv7 from the caller, so id order is age order
    type             TEXT NOT NULL,
    state            TEXT NOT NULL CHECK (state IN (
                         'scheduled', 'queued', 'running', 'retrying', 'blocked',
                         'succeeded', 'dead', 'cancelled')),
    payload          TEXT NOT NULL,     -- JSON
    result           TEXT,              -- JSON, set when the job succeeds
    error            TEXT,              -- summary of the latest attempt's error (see the header)
    reason           TEXT,              -- why the job entered its current state
    attempts         INTEGER NOT NULL DEFAULT 0,
    max_attempts     INTEGER NOT NULL,
    queue            TEXT NOT NULL,
    priority         INTEGER NOT NULL DEFAULT 0,  -- higher runs first
    tenant           TEXT,
    idempotency_key  TEXT,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    created_at       INTEGER NOT NULL,
    run_at           INTEGER NOT NULL,
    started_at       INTEGER,           -- start of the latest attempt
    finished_at      INTEGER,           -- set only in terminal states
    expire_at        INTEGER,
    lease_token      TEXT,              -- set only while running: fences every later step
    lease_expires_at INTEGER,
    worker_id        TEXT,              -- the worker of the latest attempt (kept as history)
    state_changed_at INTEGER NOT NULL
);

-- CLAIM_BATCH: per queue, walk queued jobs in claim order and stop at LIMIT.
CREATE INDEX jobs_claim ON jobs (queue, priority DESC, run_at, id) WHERE state = 'queued';
-- PROMOTE_DUE_FOR_CLAIM: due jobs of the claimed queues only.
CREATE INDEX jobs_due_by_queue ON jobs (queue, run_at) WHERE state IN ('scheduled', 'retrying');
-- PROMOTE_DUE: due jobs of every queue, oldest first.
CREATE INDEX jobs_due ON jobs (run_at) WHERE state IN ('scheduled', 'retrying');
-- EXPIRE_FOR_CLAIM: waiting jobs past their expire_at.
CREATE INDEX jobs_expiry ON jobs (queue, expire_at)
    WHERE expire_at IS NOT NULL AND state IN ('scheduled', 'queued', 'retrying');
-- REAP_EXPIRED_LEASES.
CREATE INDEX jobs_lease ON jobs (lease_expires_at) WHERE state = 'running';
-- PRUNE_FINISHED: finished_at is set only in terminal states.
CREATE INDEX jobs_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL;
-- LIST_JOBS_BY_*: newest first within one filter value.
-- jobs_state leaves out queued and running jobs: every index an INSERT touches costs a
-- page written to the WAL at each commit (about 10% of a one-job enqueue), and these are
-- the two states every job passes through. Listing them walks their own partial index
-- instead (LIST_QUEUED_JOBS: jobs_claim; LIST_RUNNING_JOBS: jobs_lease) and sorts the ids
-- it finds: the cost follows the backlog (about 0.4 µs per queued job, 4 ms for 10,000),
-- not the page, as stats() already follows the table. The states that pile up
-- (succeeded, dead, cancelled) and the waiting ones (scheduled, retrying) stay indexed.
CREATE INDEX jobs_state ON jobs (state, id) WHERE state NOT IN ('queued', 'running');
CREATE INDEX jobs_type ON jobs (type, id);
CREATE INDEX jobs_tenant ON jobs (tenant, id) WHERE tenant IS NOT NULL;
-- ENQUEUE_JOB's conflict target: one job per (tenant, key); NULL tenant is its own scope.
CREATE UNIQUE INDEX jobs_idempotency ON jobs (idempotency_key, coalesce(tenant, ''))
    WHERE idempotency_key IS NOT NULL;

CREATE TABLE attempts (
    job_id        TEXT NOT NULL,
    number        INTEGER NOT NULL,
    started_at    INTEGER NOT NULL,
    finished_at   INTEGER,
    outcome       TEXT,                 -- the job's reason when the attempt ended
    error_type    TEXT,
    error_message TEXT,
    traceback     TEXT,
    worker_id     TEXT,
    PRIMARY KEY (job_id, number)
);

-- Event ids must never be reused, even after the newest events are pruned, because
-- readers resume from the last id they saw. A new row gets the highest id + 1, so the
-- row holding the highest id is never deleted: jobs_deleted turns it into a marker
-- (job_id NULL, skipped by READ_EVENTS) and drops older markers. Not AUTOINCREMENT,
-- which keeps the same promise by updating sqlite_sequence on every insert: one more
-- page written to the WAL at each commit of every transition.
CREATE TABLE events (
    id     INTEGER PRIMARY KEY,
    job_id TEXT,                       -- NULL only for the marker (see above)
    at     INTEGER NOT NULL,
    kind   TEXT NOT NULL,
    state  TEXT,
    reason TEXT,
    data   TEXT NOT NULL DEFAULT '{}'  -- JSON object
);
-- READ_JOB_EVENTS, and the deletes in jobs_deleted.
CREATE INDEX events_job ON events (job_id, id);

-- Triggers make every transition append its event and keep the attempt history in the
-- same atomic step, batched ones included, without a Python round trip per row.

CREATE TRIGGER jobs_inserted AFTER INSERT ON jobs
BEGIN
    INSERT INTO events (job_id, at, kind, state, reason)
    VALUES (new.id, new.state_changed_at, 'state', new.state, new.reason);
END;

CREATE TRIGGER jobs_state_changed AFTER UPDATE OF state ON jobs
WHEN old.state IS NOT new.state
BEGIN
    INSERT INTO events (job_id, at, kind, state, reason, data)
    VALUES (
        new.id, new.state_changed_at, 'state', new.state, new.reason,
        -- the error belongs to the event that ends the attempt it came from
        CASE WHEN old.state = 'running' AND new.error IS NOT NULL
            THEN json_object('attempt', new.attempts, 'error', new.error)
            ELSE json_object('attempt', new.attempts)
        END
    );
END;

CREATE TRIGGER jobs_attempt_started AFTER UPDATE OF state ON jobs
WHEN new.state = 'running' AND old.state IS NOT 'running'
BEGIN
    INSERT INTO attempts (job_id, number, started_at, worker_id)
    VALUES (new.id, new.attempts, new.started_at, new.worker_id);
END;

-- The outcome is the job's new reason. error_message gets the job's error summary;
-- finish_many then overwrites type, message and traceback when the worker sent them.
CREATE TRIGGER jobs_attempt_finished AFTER UPDATE OF state ON jobs
WHEN old.state = 'running' AND new.state IS NOT 'running'
BEGIN
    UPDATE attempts
    SET finished_at = new.state_changed_at, outcome = new.reason, error_message = new.error
    WHERE job_id = new.id AND number = old.attempts;
END;

CREATE TRIGGER jobs_deleted AFTER DELETE ON jobs
BEGIN
    DELETE FROM attempts WHERE job_id = old.id;
    -- keep the highest event id taken (see events); events_job finds the markers
    UPDATE events SET job_id = NULL
    WHERE id = (SELECT max(id) FROM events) AND job_id = old.id;
    DELETE FROM events WHERE job_id = old.id;
    DELETE FROM events WHERE job_id IS NULL AND id < (SELECT max(id) FROM events);
END;
