"""Every SQL statement of the SQLite backend, one named constant per transition or read.

Values are always bound (``:name``); nothing here is assembled at run time. Timestamps
are INTEGER microseconds since the Unix epoch; ``:now`` is the caller's "now" (the
store's clock when the caller passed ``None``). Each write statement sets
``state_changed_at = :now`` so the triggers of ``0001_init.sql`` stamp the lifecycle
event they append. Queue and id lists are bound as one JSON array and expanded with
``json_each``, so one prepared statement serves any list length.

``INDEXED BY`` pins the statements whose speed depends on a partial index: without
statistics SQLite's planner may prefer a general index (``jobs_type``, the primary
key), which turns a LIMIT-bounded walk into a scan of every job of that kind. It is
also an assertion: SQLite refuses to run the statement if the index stopped being
usable.
"""

# --- connection and transaction control ----------------------------------------------

# WAL lets readers run beside the one writer; synchronous=NORMAL in WAL loses no
# committed transaction on a crash of the process (only on power loss of the machine).
CONFIGURE_CONNECTION = """
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
"""

# The store's own connections (see checkpoints.py). wal_autocheckpoint = 0: no COMMIT
# copies the WAL into the database and waits for its fsyncs; the backend's thread runs
# the checkpoints. journal_size_limit: when the WAL restarts from its beginning, a file
# grown past this size by a burst is cut back to it (smaller files are kept, so the
# next commits overwrite allocated blocks instead of extending the file).
CONFIGURE_STORE_CONNECTION = """
PRAGMA wal_autocheckpoint = 0;
PRAGMA journal_size_limit = 33554432;
"""

# The inline connection exists only in WAL mode ('wal'): only there is BEGIN IMMEDIATE
# the one statement of a write transaction that can meet another connection's lock (a
# rollback journal also needs it at COMMIT). SQLite keeps the old mode, without an
# error, where WAL cannot work (e.g. no shared memory on a network file system).
JOURNAL_MODE = "PRAGMA journal_mode"

# The connection that runs short transactions on the caller's thread: never wait for
# the write lock (the backend moves the transaction to its own thread instead).
NO_BUSY_WAIT = "PRAGMA busy_timeout = 0"

# checkpoints.py. Each returns one row: (busy, frames in the WAL, frames checkpointed).
# PASSIVE copies what it can without waiting for anyone; RESTART also waits (under the
# busy timeout) for the writer and the readers, so the next writer starts the WAL over.
CHECKPOINT_PASSIVE = "PRAGMA wal_checkpoint(PASSIVE)"
CHECKPOINT_RESTART = "PRAGMA wal_checkpoint(RESTART)"

# Every transition: take the write lock at BEGIN (waiting up to busy_timeout), so a
# transaction never fails half-way on a lock upgrade.
BEGIN_IMMEDIATE = "BEGIN IMMEDIATE"
# Migrations: the blocking lock of STYLE.md section 1.4.
BEGIN_EXCLUSIVE = "BEGIN EXCLUSIVE"
COMMIT = "COMMIT"
ROLLBACK = "ROLLBACK"

# wakeups: a counter that changes when another connection commits. Cheap: no table read.
DATA_VERSION = "PRAGMA data_version"

# --- migrations bookkeeping -----------------------------------------------------------

CREATE_MIGRATIONS_TABLE = """
CREATE TABLE IF NOT EXISTS conveyor_migrations (
    name       TEXT PRIMARY KEY,
    applied_at INTEGER NOT NULL
)
"""
LIST_APPLIED_MIGRATIONS = "SELECT name FROM conveyor_migrations ORDER BY name"
RECORD_MIGRATION = "INSERT INTO conveyor_migrations (name, applied_at) VALUES (:name, :applied_at)"

# --- enqueue --------------------------------------------------------------------------

# enqueue: (nothing) -> queued | scheduled. The only conflict handled is the unique index
# jobs_idempotency, so of concurrent submissions with one (tenant, key) exactly one row
# is inserted, across processes; the losers read the winner with
# FIND_BY_IDEMPOTENCY_KEY. A duplicate id is a caller bug and still fails.
ENQUEUE_JOB = """
INSERT INTO jobs (
    id, type, state, payload, reason, max_attempts, queue, priority, tenant,
    idempotency_key, created_at, run_at, expire_at, state_changed_at, meta
) VALUES (
    :id, :type, :state, :payload, 'enqueued', :max_attempts, :queue, :priority, :tenant,
    :idempotency_key, :now, :run_at, :expire_at, :now, :meta
)
ON CONFLICT (idempotency_key, coalesce(tenant, '')) WHERE idempotency_key IS NOT NULL
DO NOTHING
"""

# The job holding an idempotency key in a tenant's scope. Index: jobs_idempotency (the
# expression coalesce(tenant, '') must stay spelled as in the index).
FIND_BY_IDEMPOTENCY_KEY = """
SELECT * FROM jobs
WHERE idempotency_key = :idempotency_key AND coalesce(tenant, '') = coalesce(:tenant, '')
"""

# --- claim (three statements, one transaction) ----------------------------------------

# claim step 1, waiting -> cancelled (reason expired): jobs of the claimed queues whose
# expire_at passed before they started. Index: jobs_expiry; the state list must match
# the index's WHERE clause word for word for SQLite to use the partial index.
# At most :step_limit rows per claim, so one claim never holds the write lock (and, on
# the inline path, the caller's event loop) for long after a mass expiry; the rest go
# in the next claims.
EXPIRE_FOR_CLAIM = """
UPDATE jobs
SET state = 'cancelled', reason = 'expired', finished_at = :now, state_changed_at = :now
WHERE id IN (
    SELECT id FROM jobs INDEXED BY jobs_expiry
    WHERE expire_at IS NOT NULL AND state IN ('scheduled', 'queued', 'retrying')
      AND queue IN (SELECT value FROM json_each(:queues))
      AND expire_at <= :now
    LIMIT :step_limit
)
"""

# claim step 2, scheduled | retrying -> queued (reason due) for the claimed queues.
# Index: jobs_due_by_queue (same WHERE-clause rule as above).
# Bounded by :step_limit like the expiry step (10,000 jobs falling due at once are
# promoted over several claims, not in one long transaction).
PROMOTE_DUE_FOR_CLAIM = """
UPDATE jobs
SET state = 'queued', reason = 'due', state_changed_at = :now
WHERE id IN (
    SELECT id FROM jobs INDEXED BY jobs_due_by_queue
    WHERE state IN ('scheduled', 'retrying')
      AND queue IN (SELECT value FROM json_each(:queues))
      AND run_at <= :now
    LIMIT :step_limit
)
"""

# claim step 3, queued -> running with a fresh lease. Index: jobs_claim. Per queue the
# index yields rows already in (priority DESC, run_at, id) order, so SQLite's sorter
# stops reading a queue once it cannot improve the top LIMIT: the cost follows LIMIT
# times the number of queues, not the backlog. RETURNING order is unspecified; the
# backend sorts the (at most LIMIT) rows it gets back.
CLAIM_BATCH = """
UPDATE jobs
SET state = 'running', reason = 'claimed', attempts = attempts + 1,
    lease_token = :lease_token, lease_expires_at = :lease_expires_at, worker_id = :worker_id,
    started_at = :now, state_changed_at = :now
WHERE id IN (
    SELECT id FROM jobs INDEXED BY jobs_claim
    WHERE state = 'queued'
      AND queue IN (SELECT value FROM json_each(:queues))
      AND run_at <= :now
    ORDER BY priority DESC, run_at, id
    LIMIT :limit
)
RETURNING id, type, payload, attempts, max_attempts, queue, priority, tenant,
          idempotency_key, run_at, meta
"""

# --- running jobs: every step is fenced by (state, lease_token) -----------------------

# heartbeat: running -> running with a later lease_expires_at. Index: primary key.
EXTEND_LEASE = """
UPDATE jobs SET lease_expires_at = :lease_expires_at
WHERE id = :id AND state = 'running' AND lease_token = :lease_token
"""

# finish: running -> succeeded | retrying | dead | cancelled | queued, as the executor
# decided. Index: primary key. The lease is cleared so a late heartbeat or a second
# finish from the same owner matches nothing. worker_id stays as history.
FINISH_JOB = """
UPDATE jobs
SET state = :state, reason = :reason, result = :result, error = :error,
    finished_at = :finished_at, run_at = coalesce(:run_at, run_at),
    lease_token = NULL, lease_expires_at = NULL, state_changed_at = :now
WHERE id = :id AND state = 'running' AND lease_token = :lease_token
"""

# finish, second half when the worker sent an error: the full error on the attempt that
# just ended (the trigger jobs_attempt_finished stored only the summary). Index: the
# attempts primary key.
RECORD_ATTEMPT_ERROR = """
UPDATE attempts
SET error_type = :error_type, error_message = :error_message, traceback = :traceback
WHERE job_id = :id AND number = (SELECT attempts FROM jobs WHERE id = :id)
"""

# Of the given running jobs, those whose cancellation was requested. Index: primary key.
LIST_CANCEL_REQUESTS = """
SELECT id FROM jobs
WHERE id IN (SELECT value FROM json_each(:ids)) AND state = 'running' AND cancel_requested = 1
"""

# reap: running -> queued (attempts left) | dead, reason lease_expired, for leases that
# expired; a job whose cancellation was requested ends cancelled instead (its worker
# died before it could finish the cancel, and running it again would ignore the
# user's request). Index: jobs_lease.
REAP_EXPIRED_LEASES = """
UPDATE jobs
SET state = CASE WHEN cancel_requested THEN 'cancelled'
                 WHEN attempts < max_attempts THEN 'queued' ELSE 'dead' END,
    reason = CASE WHEN cancel_requested THEN 'cancelled' ELSE 'lease_expired' END,
    run_at = CASE WHEN NOT cancel_requested AND attempts < max_attempts
                  THEN :now ELSE run_at END,
    finished_at = CASE WHEN NOT cancel_requested AND attempts < max_attempts
                       THEN NULL ELSE :now END,
    error = :error,
    lease_token = NULL, lease_expires_at = NULL, state_changed_at = :now
WHERE id IN (
    SELECT id FROM jobs INDEXED BY jobs_lease
    WHERE state = 'running' AND lease_expires_at < :now
    ORDER BY lease_expires_at
    LIMIT :limit
)
RETURNING id
"""

# --- scheduler duties -----------------------------------------------------------------

# promote: scheduled | retrying -> queued (reason due), every queue, oldest first.
# Index: jobs_due.
PROMOTE_DUE = """
UPDATE jobs
SET state = 'queued', reason = 'due', state_changed_at = :now
WHERE id IN (
    SELECT id FROM jobs INDEXED BY jobs_due
    WHERE state IN ('scheduled', 'retrying') AND run_at <= :now
    ORDER BY run_at
    LIMIT :limit
)
"""

# prune: delete terminal jobs finished before :older_than; the trigger jobs_deleted
# removes their attempts and events. Index: jobs_finished.
PRUNE_FINISHED = """
DELETE FROM jobs
WHERE id IN (
    SELECT id FROM jobs INDEXED BY jobs_finished
    WHERE finished_at IS NOT NULL AND finished_at < :older_than
      AND state IN ('succeeded', 'dead', 'cancelled')
    ORDER BY finished_at
    LIMIT :limit
)
"""

# --- operator actions -----------------------------------------------------------------

# cancel: scheduled | queued | retrying | blocked -> cancelled. Index: primary key.
CANCEL_WAITING = """
UPDATE jobs
SET state = 'cancelled', reason = :reason, finished_at = :now, state_changed_at = :now
WHERE id = :id AND state IN ('scheduled', 'queued', 'retrying', 'blocked')
"""

# cancel of a running job: only raise the flag; the worker that holds the lease sees it
# through LIST_CANCEL_REQUESTS and finishes the transition. Index: primary key.
REQUEST_CANCEL = """
UPDATE jobs SET cancel_requested = 1
WHERE id = :id AND state = 'running' AND cancel_requested = 0
"""

# The event for REQUEST_CANCEL: not a state change, so no trigger appends it.
APPEND_CANCEL_REQUESTED_EVENT = """
INSERT INTO events (job_id, at, kind, state, reason)
VALUES (:id, :now, 'cancel_requested', 'running', :reason)
"""

# manual retry: dead -> queued (reason manual_retry) with room for one more attempt.
# Index: primary key.
REQUEUE_DEAD = """
UPDATE jobs
SET state = 'queued', reason = 'manual_retry', run_at = :now, finished_at = NULL,
    error = NULL, cancel_requested = 0, max_attempts = max(max_attempts, attempts + 1),
    state_changed_at = :now
WHERE id = :id AND state = 'dead'
"""

# delete: a terminal job (the trigger jobs_deleted removes its history). Index: primary key.
DELETE_FINISHED_JOB = """
DELETE FROM jobs WHERE id = :id AND state IN ('succeeded', 'dead', 'cancelled')
RETURNING *
"""

# --- reads ----------------------------------------------------------------------------

GET_JOB = "SELECT * FROM jobs WHERE id = :id"

# list_jobs, newest first, keyset-paginated on id (:before is the previous page's last
# id, or a value above every id). The driving filter picks the statement, so each one
# walks one index in id order; the other filters are checked on the rows it visits.

# Index: primary key.
LIST_JOBS = """
SELECT * FROM jobs
WHERE id < :before
  AND (:state IS NULL OR state = :state) AND (:type IS NULL OR type = :type)
  AND (:queue IS NULL OR queue = :queue) AND (:tenant IS NULL OR tenant = :tenant)
ORDER BY id DESC
LIMIT :limit
"""

# Index: jobs_state, which holds every state but queued and running: the NOT IN must
# match its WHERE clause word for word for SQLite to use it.
LIST_JOBS_BY_STATE = """
SELECT * FROM jobs INDEXED BY jobs_state
WHERE state = :state AND state NOT IN ('queued', 'running') AND id < :before
  AND (:type IS NULL OR type = :type)
  AND (:queue IS NULL OR queue = :queue) AND (:tenant IS NULL OR tenant = :tenant)
ORDER BY id DESC
LIMIT :limit
"""

# Queued jobs, which jobs_state leaves out (see 0001_init.sql). Index: jobs_claim, walked
# whole and its ids sorted (about 0.4 µs per queued job): the cost follows the backlog.
# Only the page's rows are returned whole. Only queue can come with this filter (type,
# tenant and idempotency key pick their own statement).
LIST_QUEUED_JOBS = """
SELECT * FROM jobs
WHERE id IN (
    SELECT id FROM jobs INDEXED BY jobs_claim
    WHERE state = 'queued' AND id < :before AND (:queue IS NULL OR queue = :queue)
    ORDER BY id DESC
    LIMIT :limit
)
ORDER BY id DESC
"""

# Running jobs, which jobs_state leaves out too. Index: jobs_lease (one entry per running
# job: bounded by the workers' slots), every running row read, then sorted.
LIST_RUNNING_JOBS = """
SELECT * FROM jobs INDEXED BY jobs_lease
WHERE state = 'running' AND id < :before AND (:queue IS NULL OR queue = :queue)
ORDER BY id DESC
LIMIT :limit
"""

# Index: jobs_type.
LIST_JOBS_BY_TYPE = """
SELECT * FROM jobs
WHERE type = :type AND id < :before
  AND (:state IS NULL OR state = :state)
  AND (:queue IS NULL OR queue = :queue) AND (:tenant IS NULL OR tenant = :tenant)
ORDER BY id DESC
LIMIT :limit
"""

# Index: jobs_tenant.
LIST_JOBS_BY_TENANT = """
SELECT * FROM jobs
WHERE tenant = :tenant AND id < :before
  AND (:state IS NULL OR state = :state) AND (:type IS NULL OR type = :type)
  AND (:queue IS NULL OR queue = :queue)
ORDER BY id DESC
LIMIT :limit
"""

# Index: jobs_idempotency (a key matches at most one job per tenant).
LIST_JOBS_BY_IDEMPOTENCY_KEY = """
SELECT * FROM jobs
WHERE idempotency_key = :idempotency_key AND id < :before
  AND (:state IS NULL OR state = :state) AND (:type IS NULL OR type = :type)
  AND (:queue IS NULL OR queue = :queue) AND (:tenant IS NULL OR tenant = :tenant)
ORDER BY id DESC
LIMIT :limit
"""

# Index: the attempts primary key.
LIST_ATTEMPTS = """
SELECT job_id, number, started_at, finished_at, outcome, error_type, error_message,
       traceback, worker_id
FROM attempts WHERE job_id = :job_id ORDER BY number
"""

# Index: the events primary key. The marker that keeps the highest id (job_id NULL,
# see 0001_init.sql) is not an event.
READ_EVENTS = """
SELECT id, job_id, at, kind, state, reason, data FROM events
WHERE id > :after AND job_id IS NOT NULL ORDER BY id LIMIT :limit
"""

# Index: events_job.
READ_JOB_EVENTS = """
SELECT id, job_id, at, kind, state, reason, data FROM events
WHERE job_id = :job_id AND id > :after ORDER BY id LIMIT :limit
"""

# A full scan of jobs; bounded by pruning (terminal jobs leave after their TTL).
COUNT_JOBS_BY_QUEUE_AND_STATE = """
SELECT queue, state, count(*) FROM jobs GROUP BY queue, state
"""

# --- backpressure (count_waiting): each count stops at :cap -----------------------------

# Waiting jobs of one queue. Indexes: jobs_claim (queued) and jobs_due_by_queue
# (scheduled, retrying); their state lists must match the indexes' WHERE clauses.
COUNT_WAITING_IN_QUEUE = """
SELECT
    (SELECT count(*) FROM (
        SELECT 1 FROM jobs INDEXED BY jobs_claim
        WHERE state = 'queued' AND queue = :queue LIMIT :cap))
  + (SELECT count(*) FROM (
        SELECT 1 FROM jobs INDEXED BY jobs_due_by_queue
        WHERE state IN ('scheduled', 'retrying') AND queue = :queue LIMIT :cap))
"""

# Waiting jobs of every queue. Indexes: jobs_claim and jobs_due.
COUNT_WAITING = """
SELECT
    (SELECT count(*) FROM (
        SELECT 1 FROM jobs INDEXED BY jobs_claim WHERE state = 'queued' LIMIT :cap))
  + (SELECT count(*) FROM (
        SELECT 1 FROM jobs INDEXED BY jobs_due
        WHERE state IN ('scheduled', 'retrying') LIMIT :cap))
"""

# Waiting jobs of one tenant (in one queue if :queue is not NULL). Index:
# jobs_waiting_by_tenant (0002), which holds waiting jobs of tenants only.
COUNT_WAITING_OF_TENANT = """
SELECT count(*) FROM (
    SELECT 1 FROM jobs INDEXED BY jobs_waiting_by_tenant
    WHERE tenant = :tenant AND state IN ('scheduled', 'queued', 'retrying')
      AND (:queue IS NULL OR queue = :queue)
    LIMIT :cap
)
"""

# --- health ---------------------------------------------------------------------------

# ping: one read that also proves the schema is there.
PING = "SELECT count(*) FROM conveyor_migrations"

# --- API keys -------------------------------------------------------------------------

CREATE_API_KEY = """
INSERT INTO api_keys (id, key_hash, tenant, admin, name, created_at)
VALUES (:id, :key_hash, :tenant, :admin, :name, :now)
RETURNING id, tenant, admin, name, created_at, revoked_at
"""

# Index: the unique index on key_hash.
FIND_ACTIVE_API_KEY = """
SELECT id, tenant, admin, name, created_at, revoked_at FROM api_keys
WHERE key_hash = :key_hash AND revoked_at IS NULL
"""

LIST_API_KEYS = """
SELECT id, tenant, admin, name, created_at, revoked_at FROM api_keys
ORDER BY created_at, id
"""

# Index: api_keys_tenant.
LIST_API_KEYS_OF_TENANT = """
SELECT id, tenant, admin, name, created_at, revoked_at FROM api_keys
WHERE tenant = :tenant ORDER BY created_at, id
"""

# Idempotent: a revoked key keeps its first revoked_at.
REVOKE_API_KEY = """
UPDATE api_keys SET revoked_at = coalesce(revoked_at, :now) WHERE id = :id
RETURNING id, tenant, admin, name, created_at, revoked_at
"""
