-- 0002_meta_and_api_keys: what the HTTP service keeps beside the jobs.
--
-- jobs.meta is a JSON object stored verbatim with the job, opaque to the store (the HTTP
-- layer keeps the captured request context there). NULL reads as {}.
--
-- api_keys holds only the SHA-256 hash of each key: the secret is shown once at creation
-- and never stored. revoked_at is set once and never cleared.

ALTER TABLE jobs ADD COLUMN meta TEXT;

-- count_waiting(tenant=...): the backpressure check of every submission by a tenant.
-- Partial, so it holds only waiting jobs of tenants: a tenant's finished history (which
-- jobs_tenant walks) costs the check nothing, and jobs without a tenant never touch it.
-- The state list must match COUNT_WAITING_BY_TENANT word for word.
CREATE INDEX jobs_waiting_by_tenant ON jobs (tenant, queue)
    WHERE tenant IS NOT NULL AND state IN ('scheduled', 'queued', 'retrying');

CREATE TABLE api_keys (
    id         TEXT PRIMARY KEY,
    key_hash   TEXT NOT NULL UNIQUE,   -- hex SHA-256 of the secret
    tenant     TEXT,                   -- NULL only for admin keys without a tenant
    admin      INTEGER NOT NULL DEFAULT 0,
    name       TEXT,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);
CREATE INDEX api_keys_tenant ON api_keys (tenant, created_at);
