-- 0001_init: jobs, their attempt history, their lifecycle events, and the HTTP
-- service's API keys (only the hex SHA-256 of each secret).
--
-- Runs with search_path set to the store's schema (migrations.py), so names here are
-- unqualified; every function pins that search_path (SET search_path FROM CURRENT), so
-- the triggers also work on a caller's connection (transactional enqueue) whose
-- search_path does not name the schema.
--
-- Every transition statement sets jobs.state_changed_at to its "now", which is how the
-- statement-level triggers below stamp the events they append, set-based, in the same
-- statement (no Python round trip per row). jobs.error is the summary of the latest
-- attempt's error, as on SQLite.

CREATE TABLE jobs (
    -- UUIDv7 from the caller, so id order is age order. COLLATE "C": byte order, the
    -- same on every database whatever its locale (listing pages walk ids).
    id               text COLLATE "C" PRIMARY KEY,
    type             text NOT NULL,
    state            text NOT NULL CHECK (state IN (
                         'scheduled', 'queued', 'running', 'retrying', 'blocked',
                         'succeeded', 'dead', 'cancelled')),
    payload          json NOT NULL,     -- json, not jsonb: stored and returned verbatim
    result           json,
    meta             json,
    error            text,
    reason           text,
    attempts         integer NOT NULL DEFAULT 0,
    max_attempts     integer NOT NULL,
    queue            text NOT NULL,
    priority         integer NOT NULL DEFAULT 0,  -- higher runs first
    tenant           text,
    idempotency_key  text,
    cancel_requested boolean NOT NULL DEFAULT false,
    created_at       timestamptz NOT NULL,
    run_at           timestamptz NOT NULL,
    started_at       timestamptz,
    finished_at      timestamptz,
    expire_at        timestamptz,
    lease_token      text,
    lease_expires_at timestamptz,
    worker_id        text,
    state_changed_at timestamptz NOT NULL
);

-- CLAIM_BATCH: per queue, walk queued jobs in claim order and stop at LIMIT.
CREATE INDEX jobs_claim ON jobs (queue, priority DESC, run_at, id) WHERE state = 'queued';
-- HOUSEKEEP_FOR_CLAIM (promote part) and PROMOTE_DUE.
CREATE INDEX jobs_due ON jobs (queue, run_at) WHERE state IN ('scheduled', 'retrying');
CREATE INDEX jobs_due_any_queue ON jobs (run_at) WHERE state IN ('scheduled', 'retrying');
-- HOUSEKEEP_FOR_CLAIM (expiry part).
CREATE INDEX jobs_expiry ON jobs (queue, expire_at)
    WHERE expire_at IS NOT NULL AND state IN ('scheduled', 'queued', 'retrying');
-- REAP_EXPIRED_LEASES, and the listing of running jobs.
CREATE INDEX jobs_lease ON jobs (lease_expires_at) WHERE state = 'running';
-- PRUNE_FINISHED.
CREATE INDEX jobs_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL;
-- Listings, newest first within one filter value. jobs_state leaves out queued and
-- running jobs, as on SQLite: every claim and most enqueues would otherwise add an entry
-- to it (a state change is never a HOT update), while those two states list through
-- jobs_claim and jobs_lease (a sort of the matching rows, not a scan of jobs).
CREATE INDEX jobs_state ON jobs (state, id) WHERE state NOT IN ('queued', 'running');
-- jobs_type and jobs_queue leave out running jobs, so that a claim adds no entry to
-- them (a job then costs them two entries, at enqueue and at finish, not three);
-- LIST_JOBS reads the running jobs through jobs_lease, in a branch of its own. These
-- two listing indexes are the most expensive ones to keep: without them at all, a
-- claim + finish drain ran 1.39x as fast and a bulk enqueue 1.37x.
CREATE INDEX jobs_type ON jobs (type, id) WHERE state <> 'running';
CREATE INDEX jobs_queue ON jobs (queue, id) WHERE state <> 'running';
CREATE INDEX jobs_tenant ON jobs (tenant, id) WHERE tenant IS NOT NULL;
-- ENQUEUE_JOBS's conflict target: one job per (tenant, key); NULL tenant is its own scope.
CREATE UNIQUE INDEX jobs_idempotency ON jobs (idempotency_key, coalesce(tenant, ''))
    WHERE idempotency_key IS NOT NULL;

CREATE TABLE attempts (
    job_id        text COLLATE "C" NOT NULL,
    number        integer NOT NULL,
    started_at    timestamptz NOT NULL,
    finished_at   timestamptz,
    outcome       text,
    error_type    text,
    error_message text,
    traceback     text,
    worker_id     text,
    PRIMARY KEY (job_id, number)
) WITH (fillfactor = 50);
-- fillfactor: an attempt is inserted at claim and closed at finish moments later; the
-- free half of its page lets that update be HOT (no indexed column changes), so it
-- adds no primary-key entry and dirties no second page.

-- Event ids come from the sequence event_ids. A reader that resumes "after id N" must
-- never miss an event that commits later with a smaller id, which plain sequence ids
-- allow (taken in one order, committed in another). So every transaction that may
-- append events first announces itself (announce_event_writer, before its first
-- statement on jobs changes a row): it takes a shared advisory lock whose key carries
-- this schema and the sequence's last value at that moment, a lower bound of every id
-- it will take. event_horizon() is the smallest such bound among the transactions in
-- flight (or the next id if there are none): every event below it is final, committed
-- or gone. READ_EVENTS returns only those. Ids are never reused, pruning included.
CREATE SEQUENCE event_ids AS bigint;

CREATE TABLE events (
    id     bigint PRIMARY KEY,
    job_id text COLLATE "C" NOT NULL,
    at     timestamptz NOT NULL,
    kind   text NOT NULL,
    state  text,
    reason text,
    data   jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX events_job ON events (job_id, id);

CREATE TABLE api_keys (
    id         text COLLATE "C" PRIMARY KEY,
    key_hash   text NOT NULL UNIQUE,
    tenant     text,
    admin      boolean NOT NULL,
    name       text,
    created_at timestamptz NOT NULL,
    revoked_at timestamptz
);
CREATE INDEX api_keys_tenant ON api_keys (tenant, created_at);

-- The advisory lock key of this schema's event writers: (schema tag << 15 | id >> 32,
-- id & 0xffffffff), with the two-int4 form (objsubid 2 in pg_locks). The tag is 16 bits
-- of the schema name's hash: two schemas that share a tag only make each other's
-- readers wait a little longer, never skip.
CREATE FUNCTION event_lock_tag() RETURNS integer
LANGUAGE sql STABLE SET search_path FROM CURRENT AS $$
    SELECT (hashtext(current_schema()) & 65535) << 15;
$$;

-- BEFORE STATEMENT on jobs: announce this transaction as an event writer (once). One
-- SQL statement (lock and flag together, the tag inlined): each statement a plpgsql
-- function runs costs a trip through SPI, and this runs before every write to jobs.
CREATE FUNCTION announce_event_writer() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    IF current_setting('conveyor.writer_' || current_schema(), true) IS DISTINCT FROM '1' THEN
        PERFORM pg_advisory_xact_lock_shared(
                    ((hashtext(current_schema()) & 65535) << 15) | (s.last_value >> 32)::integer,
                    ((s.last_value & 4294967295)
                     - CASE WHEN s.last_value & 2147483648 <> 0 THEN 4294967296 ELSE 0 END)::integer),
                -- reverts with the transaction (and the lock)
                set_config('conveyor.writer_' || current_schema(), '1', true)
        FROM event_ids s;
    END IF;
    RETURN NULL;
END
$$;

-- Every event below this id is final (see event_ids). The sequence is read before the
-- locks: a writer that announces itself after this read takes ids above it.
CREATE FUNCTION event_horizon() RETURNS bigint
LANGUAGE plpgsql VOLATILE SET search_path FROM CURRENT AS $$
DECLARE
    next_id bigint;
    in_flight bigint;
BEGIN
    SELECT CASE WHEN is_called THEN last_value + 1 ELSE last_value END INTO next_id
    FROM event_ids;
    SELECT min(((l.classid::bigint & 32767) << 32) | l.objid::bigint) INTO in_flight
    FROM pg_locks l
    WHERE l.locktype = 'advisory' AND l.objsubid = 2
      AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND (l.classid::bigint >> 15) = (event_lock_tag()::bigint >> 15);
    RETURN least(next_id, in_flight);
END
$$;

-- Wake idle workers of the queues that got runnable jobs. The channel carries the
-- schema (channels are per database); PostgreSQL delivers on commit, drops duplicates
-- within a transaction, and never delivers for a rolled-back one.
CREATE FUNCTION notify_runnable(queues text[]) RETURNS void
LANGUAGE sql SET search_path FROM CURRENT AS $$
    SELECT pg_notify('conveyor:' || current_schema(), q) FROM unnest(queues) AS q;
$$;

-- The batches of FINISH_MANY (a JSON array of outcome objects) and EXTEND_LEASES (id and
-- token arrays), as rows. ROWS 1 is a planner hint, not a truth: the statements join
-- these rows to jobs by primary key, and with the default estimate of 100 rows the
-- planner, on a table it has no statistics for (never analyzed: autovacuum off or not
-- yet run), costs 100 key probes above one sequential scan and hash-joins the batch
-- against every row of jobs (measured on 20,000 jobs: the join of a finish of 100 took
-- 3.9 ms that way, 0.3 ms by key). SET search_path keeps the functions from being
-- inlined, which would bring the default estimate back.
CREATE FUNCTION outcome_rows(batch json) RETURNS TABLE (
    id text, token text, state text, reason text, result text, error text,
    retry_in float8, error_type text, error_message text, traceback text)
LANGUAGE sql STABLE ROWS 1 SET search_path FROM CURRENT AS $$
    SELECT * FROM json_to_recordset(batch) AS i(
        id text, token text, state text, reason text, result text, error text,
        retry_in float8, error_type text, error_message text, traceback text);
$$;

CREATE FUNCTION lease_rows(ids text[], tokens text[]) RETURNS TABLE (id text, token text)
LANGUAGE sql STABLE ROWS 1 SET search_path FROM CURRENT AS $$
    SELECT * FROM unnest(ids, tokens);
$$;

-- Claim step 1 (HOUSEKEEP_FOR_CLAIM), for the claimed queues: waiting -> cancelled
-- (reason expired) for jobs whose expire_at passed, and due scheduled | retrying ->
-- queued (reason due) for the others. Two disjoint row sets, so one statement. Rows
-- another claimer is working on are skipped, not waited for. At most step_limit rows
-- each. Indexes: jobs_expiry, jobs_due. The two probes first walk the same indexes:
-- most claims find nothing to do, and then run no UPDATE, so neither the writer
-- announcement nor jobs_updated fires for it (measured: a one-job claim 5-8% faster).
CREATE FUNCTION housekeep_for_claim(queues text[], as_of timestamptz, step_limit integer)
RETURNS void
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    IF NOT EXISTS (
        SELECT FROM jobs j
        WHERE j.expire_at IS NOT NULL AND j.state IN ('scheduled', 'queued', 'retrying')
          AND j.queue = ANY(queues) AND j.expire_at <= as_of
    ) AND NOT EXISTS (
        SELECT FROM jobs j
        WHERE j.state IN ('scheduled', 'retrying') AND j.queue = ANY(queues)
          AND j.run_at <= as_of
    ) THEN
        RETURN;
    END IF;
    WITH expiring AS (
        SELECT j.id FROM jobs j
        WHERE j.expire_at IS NOT NULL AND j.state IN ('scheduled', 'queued', 'retrying')
          AND j.queue = ANY(queues) AND j.expire_at <= as_of
        LIMIT step_limit
        FOR UPDATE OF j SKIP LOCKED
    ), expired AS (
        UPDATE jobs j
        SET state = 'cancelled', reason = 'expired', finished_at = as_of, state_changed_at = as_of
        FROM expiring e WHERE j.id = e.id
    ), due AS (
        SELECT j.id FROM jobs j
        WHERE j.state IN ('scheduled', 'retrying') AND j.queue = ANY(queues)
          AND j.run_at <= as_of AND (j.expire_at IS NULL OR j.expire_at > as_of)
        LIMIT step_limit
        FOR UPDATE OF j SKIP LOCKED
    )
    UPDATE jobs j
    SET state = 'queued', reason = 'due', state_changed_at = as_of
    FROM due d WHERE j.id = d.id;
END
$$;

CREATE TRIGGER jobs_announce_insert BEFORE INSERT ON jobs
FOR EACH STATEMENT EXECUTE FUNCTION announce_event_writer();
CREATE TRIGGER jobs_announce_update BEFORE UPDATE ON jobs
FOR EACH STATEMENT EXECUTE FUNCTION announce_event_writer();

-- No trigger after INSERT: the one statement that inserts jobs (ENQUEUE_JOBS and
-- ENQUEUE_ONE in queries.py) appends their 'enqueued' events and wakes the workers of
-- their queues itself, which saves a trigger call per enqueue (about a tenth of a
-- one-job enqueue's time in the database).

-- One event per state change; attempts opened when a job starts running and closed
-- when it stops. The outcome of an attempt is the job's new reason; its error_message
-- the job's error summary unless finish_many stored the full error first (its CTE runs
-- before this trigger). Heartbeats change no state: they leave after the first count.
CREATE FUNCTION jobs_updated() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE
    runnable_dummy text;
BEGIN
    IF NOT EXISTS (
        SELECT FROM new_rows nw JOIN old_rows o ON o.id = nw.id WHERE o.state <> nw.state
    ) THEN
        RETURN NULL;
    END IF;
    WITH changed AS MATERIALIZED (
        SELECT nw.id, nw.state, nw.reason, nw.error, nw.attempts, nw.queue, nw.started_at,
               nw.worker_id, nw.state_changed_at, o.state AS old_state,
               o.attempts AS old_attempts
        FROM new_rows nw JOIN old_rows o ON o.id = nw.id
        WHERE o.state <> nw.state
    ), appended AS (
        INSERT INTO events (id, job_id, at, kind, state, reason, data)
        SELECT nextval('event_ids'), c.id,
               c.state_changed_at, 'state', c.state, c.reason,
               CASE WHEN c.old_state = 'running' AND c.error IS NOT NULL
                   THEN jsonb_build_object('attempt', c.attempts, 'error', c.error)
                   ELSE jsonb_build_object('attempt', c.attempts)
               END
        FROM changed c
    ), opened AS (
        INSERT INTO attempts (job_id, number, started_at, worker_id)
        SELECT c.id, c.attempts, c.started_at, c.worker_id
        FROM changed c WHERE c.state = 'running'
    ), closed AS (
        UPDATE attempts a
        SET finished_at = c.state_changed_at, outcome = c.reason,
            error_message = coalesce(a.error_message, c.error)
        FROM changed c
        WHERE c.old_state = 'running' AND a.job_id = c.id AND a.number = c.old_attempts
    )
    SELECT notify_runnable(array_agg(DISTINCT c.queue)) FROM changed c WHERE c.state = 'queued'
    INTO STRICT runnable_dummy;
    RETURN NULL;
END
$$;

CREATE TRIGGER jobs_updated AFTER UPDATE ON jobs
REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION jobs_updated();

-- A deleted job takes its history with it. Event ids are never reused (see event_ids),
-- so nothing has to mark the highest one as SQLite does.
CREATE FUNCTION jobs_deleted() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    DELETE FROM attempts WHERE job_id IN (SELECT id FROM old_rows);
    DELETE FROM events WHERE job_id IN (SELECT id FROM old_rows);
    RETURN NULL;
END
$$;

CREATE TRIGGER jobs_deleted AFTER DELETE ON jobs
REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION jobs_deleted();
