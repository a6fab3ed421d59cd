"""Every SQL statement of the PostgreSQL backend, one named constant per transition or read.

Each constant is a template whose only placeholder is ``{schema}``: ``Statements``
composes it once per backend with ``psycopg.sql.Identifier`` (STYLE.md 1.3), so every
table is schema-qualified and the statements also run on a caller's connection
(transactional enqueue) whatever its ``search_path``. Values are always bound
(``%(name)s``); lists travel as arrays and are expanded with ``unnest``, so one prepared
statement serves any batch size.

Time: ``coalesce(%(now)s, statement_timestamp())``. Production binds ``NULL``, so every
machine uses the database's clock for leases. ``statement_timestamp()``, not ``now()``:
``now()`` is the start of the transaction, which for a caller's transaction
(transactional enqueue) may be long past.

The triggers of ``0001_init.sql`` append the lifecycle events, open and close attempts
and send the NOTIFY wake-ups, in the same statement.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from psycopg import sql

# --- migrations and checks -------------------------------------------------------------

# The migration lock: a transaction-scoped advisory lock keyed by the schema name, so
# concurrent `conveyor migrate` runs (and opens) on one schema wait for each other.
LOCK_MIGRATIONS = "SELECT pg_advisory_xact_lock(hashtext('conveyor.migrate.' || %(schema)s))"
CREATE_SCHEMA = "CREATE SCHEMA IF NOT EXISTS {schema}"
SET_SEARCH_PATH = "SET LOCAL search_path TO {schema}"
CREATE_MIGRATIONS_TABLE = """
CREATE TABLE IF NOT EXISTS {schema}.conveyor_migrations (
    name       text PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT statement_timestamp()
)
"""
RECORD_MIGRATION = "INSERT INTO {schema}.conveyor_migrations (name) VALUES (%(name)s)"
LIST_APPLIED_MIGRATIONS = "SELECT name FROM {schema}.conveyor_migrations ORDER BY name"
# open()/ping(): whether the version table exists at all (a fresh database).
MIGRATIONS_TABLE_EXISTS = "SELECT to_regclass(%(table)s) IS NOT NULL"

# --- enqueue ---------------------------------------------------------------------------

# enqueue: (nothing) -> queued | scheduled, a whole batch in one statement. The only
# conflict handled is jobs_idempotency: of concurrent submissions of one (tenant, key)
# exactly one row is inserted (the others wait for its commit, then do nothing), and
# within a batch the first occurrence wins (rows are inserted in ordinality order).
# Returns the ids inserted; the backend reads the holders of the other keys with
# FIND_BY_IDEMPOTENCY_KEYS. A duplicate id is a caller bug and still fails. The same
# statement appends each inserted job's 'enqueued' event (the BEFORE trigger has
# announced the writer by then: it fires when the INSERT starts) and notifies the
# queues that got runnable jobs; jobs has no AFTER INSERT trigger.
_ENQUEUE_HEAD = """
WITH t AS (SELECT coalesce(%(now)s::timestamptz, statement_timestamp()) AS now),
inserted AS (
INSERT INTO {schema}.jobs (
    id, type, state, payload, meta, reason, max_attempts, queue, priority, tenant,
    idempotency_key, created_at, run_at, expire_at, state_changed_at
)
SELECT i.id, i.type,
       CASE WHEN coalesce(i.run_at, t.now) > t.now THEN 'scheduled' ELSE 'queued' END,
       i.payload::json, i.meta::json, 'enqueued', i.max_attempts, i.queue, i.priority,
       i.tenant, i.idempotency_key, t.now, coalesce(i.run_at, t.now), i.expire_at, t.now
FROM t, """
_ENQUEUE_TAIL = """
ON CONFLICT (idempotency_key, coalesce(tenant, '')) WHERE idempotency_key IS NOT NULL
DO NOTHING
RETURNING id, created_at, state, reason, queue, state_changed_at
), appended AS (
    INSERT INTO {schema}.events (id, job_id, at, kind, state, reason)
    SELECT nextval('{schema}.event_ids'), id, state_changed_at, 'state', state, reason
    FROM inserted
), woken AS (
    SELECT {schema}.notify_runnable(array_agg(DISTINCT queue)) AS sent
    FROM inserted WHERE state = 'queued'
)
SELECT i.id, i.created_at FROM inserted i, woken
"""
ENQUEUE_JOBS = (
    _ENQUEUE_HEAD
    + """ROWS FROM (json_to_recordset(%(jobs)s::json) AS (
    id text, type text, payload text, meta text, max_attempts int, queue text,
    priority int, tenant text, idempotency_key text, run_at timestamptz,
    expire_at timestamptz
)) WITH ORDINALITY AS i(id, type, payload, meta, max_attempts, queue, priority, tenant,
                       idempotency_key, run_at, expire_at, n)
ORDER BY i.n"""
    + _ENQUEUE_TAIL
)

# ENQUEUE_JOBS for a single job, with scalar parameters: the same insert, conflict
# handling and triggers, without binding and unpacking eleven one-element arrays (about
# a tenth of the client's CPU per one-at-a-time enqueue).
ENQUEUE_ONE = (
    _ENQUEUE_HEAD
    + """(VALUES (
    %(id)s::text, %(type)s::text, %(payload)s::text, %(meta)s::text, %(max_attempts)s::int,
    %(queue)s::text, %(priority)s::int, %(tenant)s::text, %(key)s::text,
    %(run_at)s::timestamptz, %(expire_at)s::timestamptz
)) AS i(id, type, payload, meta, max_attempts, queue, priority, tenant, idempotency_key,
        run_at, expire_at)"""
    + _ENQUEUE_TAIL
)

# The jobs holding these (tenant, key) pairs. Index: jobs_idempotency.
FIND_BY_IDEMPOTENCY_KEYS = """
SELECT j.* FROM {schema}.jobs j
JOIN unnest(%(tenants)s::text[], %(keys)s::text[]) AS k(tenant, idempotency_key)
  ON j.idempotency_key = k.idempotency_key
 AND coalesce(j.tenant, '') = coalesce(k.tenant, '')
"""

# --- claim: two statements, one transaction, one round trip (pipeline) -----------------

# claim step 1, for the claimed queues: waiting -> cancelled (reason expired) for jobs
# whose expire_at passed, and due scheduled | retrying -> queued (reason due) for the
# others; the function housekeep_for_claim of 0001_init.sql, which first probes whether
# there is anything to do, so that most claims run no UPDATE (and no trigger) here.
HOUSEKEEP_FOR_CLAIM = """
SELECT {schema}.housekeep_for_claim(
    %(queues)s::text[], coalesce(%(now)s::timestamptz, statement_timestamp()),
    %(step_limit)s::integer
)
"""

# claim step 2, queued -> running with a fresh lease; a queued job whose expire_at
# passed is never taken, whether or not step 1 ran just before (see claim_batch).
# Index: jobs_claim, walked per queue
# (the LATERAL), each walk already in (priority DESC, run_at, id) order and stopped at
# LIMIT, so the cost follows LIMIT times the number of queues, not the backlog. FOR
# UPDATE SKIP LOCKED: concurrent claimers take disjoint rows without waiting. With
# several queues a claimer may lock up to LIMIT rows per queue and take only LIMIT;
# the rest are free again at its commit (a moment later).
CLAIM_BATCH = """
WITH t AS (SELECT coalesce(%(now)s::timestamptz, statement_timestamp()) AS now),
picked AS (
    SELECT c.id FROM t, unnest(%(queues)s::text[]) AS q(name)
    CROSS JOIN LATERAL (
        SELECT j.id, j.priority, j.run_at FROM {schema}.jobs j
        WHERE j.state = 'queued' AND j.queue = q.name AND j.run_at <= t.now
          AND (j.expire_at IS NULL OR j.expire_at > t.now)
        ORDER BY j.priority DESC, j.run_at, j.id
        LIMIT %(limit)s
        FOR UPDATE OF j SKIP LOCKED
    ) c
    ORDER BY c.priority DESC, c.run_at, c.id
    LIMIT %(limit)s
)
UPDATE {schema}.jobs j
SET state = 'running', reason = 'claimed', attempts = j.attempts + 1,
    lease_token = %(lease_token)s,
    lease_expires_at = t.now + make_interval(secs => %(lease_seconds)s),
    worker_id = %(worker_id)s, started_at = t.now, state_changed_at = t.now
FROM picked p, t
WHERE j.id = p.id
RETURNING j.id, j.type, j.payload::text, j.attempts, j.max_attempts, j.queue, j.priority,
          j.tenant, j.idempotency_key, j.run_at, j.meta::text
"""

# The plan guard of tests/integration: CLAIM_BATCH's per-queue walk on its own.
CLAIM_WALK = """
SELECT j.id FROM {schema}.jobs j
WHERE j.state = 'queued' AND j.queue = %(queue)s AND j.run_at <= %(now)s
  AND (j.expire_at IS NULL OR j.expire_at > %(now)s)
ORDER BY j.priority DESC, j.run_at, j.id
LIMIT %(limit)s
FOR UPDATE OF j SKIP LOCKED
"""

# --- running jobs: every step is fenced by the lease token ------------------------------

# A job holds a lease_token exactly while it is running (CLAIM_BATCH sets it, FINISH_MANY
# and REAP_EXPIRED_LEASES clear it, and each claim draws a fresh random one), so
# `lease_token = <token>` alone says "still running under this lease". The statements
# below deliberately leave out a `state = 'running'` test: the planner estimates it from
# statistics taken when few jobs ran, and then walks jobs_lease (through every dead
# entry that earlier claims left in it) or scans jobs instead of looking the ids up in
# the primary key (measured: a finish of 200 took 12-19 ms instead of 4-5 ms after
# 20,000 jobs). Their batches come through outcome_rows and lease_rows (0001_init.sql),
# whose ROWS 1 estimate keeps the join a primary-key lookup when jobs has no statistics.

# heartbeat: running -> running with a later lease, for every lease still held, in one
# statement. Index: primary key.
EXTEND_LEASES = """
WITH t AS (SELECT coalesce(%(now)s::timestamptz, statement_timestamp()) AS now)
UPDATE {schema}.jobs j
SET lease_expires_at = t.now + make_interval(secs => %(lease_seconds)s)
FROM t, {schema}.lease_rows(%(ids)s::text[], %(tokens)s::text[]) AS l
WHERE j.id = l.id AND j.lease_token = l.token
RETURNING j.id
"""

# finish: running -> succeeded | retrying | dead | cancelled | queued, as the executor
# decided, a whole batch in one statement; the lease is cleared so a late heartbeat or
# a second finish matches nothing. `errored` stores the worker's full error on the
# attempt that ended (the trigger then keeps it and only closes the attempt).
# Index: primary keys of jobs and attempts.
FINISH_MANY = """
WITH t AS (SELECT coalesce(%(now)s::timestamptz, statement_timestamp()) AS now),
i AS (
    SELECT * FROM {schema}.outcome_rows(%(outcomes)s::json)
), done AS (
    UPDATE {schema}.jobs j
    SET state = i.state, reason = i.reason, result = i.result::json, error = i.error,
        finished_at = CASE WHEN i.state IN ('succeeded', 'dead', 'cancelled') THEN t.now END,
        run_at = CASE i.state
            WHEN 'retrying' THEN t.now + make_interval(secs => coalesce(i.retry_in, 0))
            WHEN 'queued' THEN t.now
            ELSE j.run_at END,
        lease_token = NULL, lease_expires_at = NULL, state_changed_at = t.now
    FROM i, t
    WHERE j.id = i.id AND j.lease_token = i.token
    RETURNING j.id, j.attempts
), failed AS MATERIALIZED (
    -- Only the errors, first: joined to `done` the planner otherwise rescans all of `i`
    -- for every finished job (2 ms of a finish of 200 without a single error).
    SELECT id, error_type, error_message, traceback FROM i WHERE error_type IS NOT NULL
), errored AS (
    UPDATE {schema}.attempts a
    SET error_type = f.error_type, error_message = f.error_message, traceback = f.traceback
    FROM done d JOIN failed f ON f.id = d.id
    WHERE a.job_id = d.id AND a.number = d.attempts
)
SELECT id FROM done
"""

# Of the given running jobs, those whose cancellation was requested. Index: primary key.
LIST_CANCEL_REQUESTS = """
SELECT id FROM {schema}.jobs
WHERE id = ANY(%(ids)s::text[]) AND state = 'running' AND cancel_requested
"""

# reap: running -> queued (attempts left) | dead, reason lease_expired; cancelled when its
# cancellation had been requested. Rows a finishing owner holds are skipped (its finish
# wins). Index: jobs_lease.
REAP_EXPIRED_LEASES = """
WITH t AS (SELECT coalesce(%(now)s::timestamptz, statement_timestamp()) AS now),
expired AS (
    SELECT j.id FROM {schema}.jobs j, t
    WHERE j.state = 'running' AND j.lease_expires_at < t.now
    ORDER BY j.lease_expires_at
    LIMIT %(limit)s
    FOR UPDATE OF j SKIP LOCKED
)
UPDATE {schema}.jobs j
SET state = CASE WHEN j.cancel_requested THEN 'cancelled'
                 WHEN j.attempts < j.max_attempts THEN 'queued' ELSE 'dead' END,
    reason = CASE WHEN j.cancel_requested THEN 'cancelled' ELSE 'lease_expired' END,
    run_at = CASE WHEN NOT j.cancel_requested AND j.attempts < j.max_attempts
                  THEN t.now ELSE j.run_at END,
    finished_at = CASE WHEN NOT j.cancel_requested AND j.attempts < j.max_attempts
                       THEN NULL ELSE t.now END,
    error = %(error)s,
    lease_token = NULL, lease_expires_at = NULL, state_changed_at = t.now
FROM expired e, t
WHERE j.id = e.id
RETURNING j.id
"""

# --- scheduler duties -------------------------------------------------------------------

# promote: scheduled | retrying -> queued (reason due), every queue, oldest first.
# Index: jobs_due_any_queue.
PROMOTE_DUE = """
WITH t AS (SELECT coalesce(%(now)s::timestamptz, statement_timestamp()) AS now),
due AS (
    SELECT j.id FROM {schema}.jobs j, t
    WHERE j.state IN ('scheduled', 'retrying') AND j.run_at <= t.now
    ORDER BY j.run_at
    LIMIT %(limit)s
    FOR UPDATE OF j SKIP LOCKED
)
UPDATE {schema}.jobs j
SET state = 'queued', reason = 'due', state_changed_at = t.now
FROM due d, t WHERE j.id = d.id
"""

# prune: delete terminal jobs finished before %(older_than)s (the trigger jobs_deleted
# removes their history). Index: jobs_finished.
PRUNE_FINISHED = """
DELETE FROM {schema}.jobs
WHERE id IN (
    SELECT id FROM {schema}.jobs
    WHERE finished_at IS NOT NULL AND finished_at < %(older_than)s
      AND state IN ('succeeded', 'dead', 'cancelled')
    ORDER BY finished_at
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
"""

# --- operator actions (each one transaction of a few statements) ------------------------

# cancel: scheduled | queued | retrying | blocked -> cancelled. Index: primary key.
CANCEL_WAITING = """
WITH t AS (SELECT coalesce(%(now)s::timestamptz, statement_timestamp()) AS now)
UPDATE {schema}.jobs j
SET state = 'cancelled', reason = %(reason)s, finished_at = t.now, state_changed_at = t.now
FROM t
WHERE j.id = %(id)s AND j.state IN ('scheduled', 'queued', 'retrying', 'blocked')
"""

# cancel of a running job: raise the flag and append its event (not a state change, so
# no trigger does). The worker holding the lease finishes the transition.
REQUEST_CANCEL = """
WITH t AS (SELECT coalesce(%(now)s::timestamptz, statement_timestamp()) AS now),
flagged AS (
    UPDATE {schema}.jobs SET cancel_requested = true
    WHERE id = %(id)s AND state = 'running' AND NOT cancel_requested
    RETURNING id
)
INSERT INTO {schema}.events (id, job_id, at, kind, state, reason)
SELECT nextval('{schema}.event_ids'), f.id, t.now, 'cancel_requested', 'running', %(reason)s
FROM flagged f, t
"""

# manual retry: dead -> queued (reason manual_retry) with room for one more attempt.
REQUEUE_DEAD = """
WITH t AS (SELECT coalesce(%(now)s::timestamptz, statement_timestamp()) AS now)
UPDATE {schema}.jobs j
SET state = 'queued', reason = 'manual_retry', run_at = t.now, finished_at = NULL,
    error = NULL, cancel_requested = false,
    max_attempts = greatest(j.max_attempts, j.attempts + 1), state_changed_at = t.now
FROM t
WHERE j.id = %(id)s AND j.state = 'dead'
RETURNING j.*
"""

# delete: a terminal job (the trigger jobs_deleted removes its history).
DELETE_FINISHED_JOB = """
DELETE FROM {schema}.jobs WHERE id = %(id)s AND state IN ('succeeded', 'dead', 'cancelled')
RETURNING *
"""

# --- reads ------------------------------------------------------------------------------

GET_JOB = "SELECT * FROM {schema}.jobs WHERE id = %(id)s"

# list_jobs, newest first, keyset-paginated on id. Two branches, because jobs_type and
# jobs_queue leave out running jobs (a claim would otherwise add an entry to each for
# every job): the jobs that are not running, through the index of the most selective
# filter given (jobs_state, jobs_type, jobs_queue, jobs_tenant, jobs_idempotency or the
# primary key), and the running ones, through jobs_lease (as many as the workers' slots,
# at most); each stops at LIMIT, and the page is the newest LIMIT of both. A state
# filter switches the other branch off (a one-time filter on the parameter alone).
LIST_JOBS = """
SELECT * FROM (
    (SELECT * FROM {schema}.jobs
WHERE (%(before)s::text IS NULL OR id < %(before)s::text)
  AND (%(state)s::text IS NULL OR state = %(state)s::text)
  AND (%(type)s::text IS NULL OR type = %(type)s::text)
  AND (%(queue)s::text IS NULL OR queue = %(queue)s::text)
  AND (%(tenant)s::text IS NULL OR tenant = %(tenant)s::text)
  AND (%(key)s::text IS NULL OR idempotency_key = %(key)s::text)
  AND state <> 'running' AND coalesce(%(state)s::text <> 'running', true)
ORDER BY id DESC LIMIT %(limit)s)
    UNION ALL
    (SELECT * FROM {schema}.jobs
WHERE (%(before)s::text IS NULL OR id < %(before)s::text)
  AND (%(state)s::text IS NULL OR state = %(state)s::text)
  AND (%(type)s::text IS NULL OR type = %(type)s::text)
  AND (%(queue)s::text IS NULL OR queue = %(queue)s::text)
  AND (%(tenant)s::text IS NULL OR tenant = %(tenant)s::text)
  AND (%(key)s::text IS NULL OR idempotency_key = %(key)s::text)
  AND state = 'running' AND coalesce(%(state)s::text = 'running', true)
ORDER BY id DESC LIMIT %(limit)s)
) AS page
ORDER BY id DESC
LIMIT %(limit)s
"""

LIST_ATTEMPTS = """
SELECT job_id, number, started_at, finished_at, outcome, error_type, error_message,
       traceback, worker_id
FROM {schema}.attempts WHERE job_id = %(job_id)s ORDER BY number
"""

# read_events, first statement: every event below this id is final (see event_ids in
# 0001_init.sql). A statement of its own, so that the events are read with a snapshot
# taken after it.
EVENT_HORIZON = "SELECT {schema}.event_horizon()"

# read_events, second statement: events with after < id < horizon. Index: the primary
# key, or events_job.
READ_EVENTS = """
SELECT id, job_id, at, kind, state, reason, data FROM {schema}.events
WHERE id > %(after)s AND id < %(horizon)s
  AND (%(job_id)s::text IS NULL OR job_id = %(job_id)s::text)
ORDER BY id
LIMIT %(limit)s
"""

# A full scan of jobs; bounded by pruning (terminal jobs leave after their TTL).
COUNT_JOBS_BY_QUEUE_AND_STATE = "SELECT queue, state, count(*) FROM {schema}.jobs GROUP BY 1, 2"

# Jobs waiting (queued | scheduled | retrying), counted up to a cap.
COUNT_WAITING = """
SELECT count(*) FROM (
    SELECT 1 FROM {schema}.jobs
    WHERE state IN ('queued', 'scheduled', 'retrying')
      AND (%(queue)s::text IS NULL OR queue = %(queue)s::text)
      AND (%(tenant)s::text IS NULL OR tenant = %(tenant)s::text)
    LIMIT %(cap)s
) AS w
"""

PING = "SELECT 1"

# --- API keys -----------------------------------------------------------------------------

CREATE_API_KEY = """
INSERT INTO {schema}.api_keys (id, key_hash, tenant, admin, name, created_at)
VALUES (%(id)s, %(key_hash)s, %(tenant)s, %(admin)s, %(name)s,
        coalesce(%(now)s::timestamptz, statement_timestamp()))
RETURNING id, tenant, admin, name, created_at, revoked_at
"""
FIND_API_KEY = """
SELECT id, tenant, admin, name, created_at, revoked_at FROM {schema}.api_keys
WHERE key_hash = %(key_hash)s AND revoked_at IS NULL
"""
LIST_API_KEYS = """
SELECT id, tenant, admin, name, created_at, revoked_at FROM {schema}.api_keys
WHERE %(tenant)s::text IS NULL OR tenant = %(tenant)s::text
ORDER BY created_at, id
"""
REVOKE_API_KEY = """
UPDATE {schema}.api_keys
SET revoked_at = coalesce(revoked_at, %(now)s::timestamptz, statement_timestamp())
WHERE id = %(id)s
RETURNING id, tenant, admin, name, created_at, revoked_at
"""


@dataclass(frozen=True, slots=True)
class Statements:
    """Every statement above, composed for one schema (``for_schema``)."""

    CREATE_SCHEMA: str
    SET_SEARCH_PATH: str
    CREATE_MIGRATIONS_TABLE: str
    RECORD_MIGRATION: str
    LIST_APPLIED_MIGRATIONS: str
    ENQUEUE_JOBS: str
    ENQUEUE_ONE: str
    FIND_BY_IDEMPOTENCY_KEYS: str
    HOUSEKEEP_FOR_CLAIM: str
    CLAIM_BATCH: str
    CLAIM_WALK: str
    EXTEND_LEASES: str
    FINISH_MANY: str
    LIST_CANCEL_REQUESTS: str
    REAP_EXPIRED_LEASES: str
    PROMOTE_DUE: str
    PRUNE_FINISHED: str
    CANCEL_WAITING: str
    REQUEST_CANCEL: str
    REQUEUE_DEAD: str
    DELETE_FINISHED_JOB: str
    GET_JOB: str
    LIST_JOBS: str
    LIST_ATTEMPTS: str
    EVENT_HORIZON: str
    READ_EVENTS: str
    COUNT_JOBS_BY_QUEUE_AND_STATE: str
    COUNT_WAITING: str
    CREATE_API_KEY: str
    FIND_API_KEY: str
    LIST_API_KEYS: str
    REVOKE_API_KEY: str

    @classmethod
    def for_schema(cls, schema: str) -> Statements:
        """Compose every template with the quoted ``schema`` identifier."""
        identifier = sql.Identifier(schema)
        composed = {
            item.name: sql.SQL(globals()[item.name]).format(schema=identifier).as_string(None)
            for item in fields(cls)
        }
        return cls(**composed)
