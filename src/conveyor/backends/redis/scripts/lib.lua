-- lib.lua: helpers every script shares, loaded after the key prelude (keys.py) and
-- before the script's own body. Nothing here runs on its own.
--
-- Conventions:
-- * Timestamps are integer microseconds since the Unix epoch (exact in Lua's doubles
--   until the year 2255) and are written with int(), never as Lua numbers (which
--   Redis would format as 1.8e+15).
-- * Optional arguments arrive as '' (none) or '=' .. value; opt() decodes them.
-- * A job changes state only through transition(), which keeps every index, counter
--   and position structure of keys.py in step and appends the lifecycle event.

local function opt(s)
  if s == '' then return false end
  return string.sub(s, 2)
end

local function int(n)
  return string.format('%d', n)
end

-- The caller's "now", or the Redis server's clock when none was given: then every
-- machine shares one clock for leases and schedules.
local function store_now(arg)
  if arg ~= '' then return tonumber(arg) end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end

local WAITING = {scheduled = true, queued = true, retrying = true}
local DUE = {scheduled = true, retrying = true}
local TERMINAL = {succeeded = true, dead = true, cancelled = true}
local CANCELLABLE = {scheduled = true, queued = true, retrying = true, blocked = true}

local LOADED = {
  'state', 'queue', 'priority', 'run_at', 'tenant', 'expire_at', 'attempts',
  'max_attempts', 'cancel_requested', 'lease_token', 'error', 'finished_at',
  'lease_expires_at', 'started_at', 'worker_id',
}

-- The fields transitions need, or nil if the job does not exist. `extra` names more
-- fields to read in the same HMGET (claim reads the payload there); their values come
-- back in job.extra, in order.
local function load_job(id, extra)
  local fields = LOADED
  if extra then
    fields = {unpack(LOADED)}
    for _, name in ipairs(extra) do fields[#fields + 1] = name end
  end
  local v = redis.call('HMGET', k_job(id), unpack(fields))
  if not v[1] then return nil end
  local job = {
    id = id, state = v[1], queue = v[2], priority = tonumber(v[3]),
    run_at = tonumber(v[4]), tenant = v[5], expire_at = v[6] and tonumber(v[6]),
    attempts = tonumber(v[7]), max_attempts = tonumber(v[8]),
    cancel_requested = v[9] == '1', lease_token = v[10], error = v[11],
    finished_at = v[12] and tonumber(v[12]),
    lease_expires_at = v[13] and tonumber(v[13]),
    started_at = v[14], worker_id = v[15],
  }
  if extra then job.extra = {unpack(v, #LOADED + 1, #fields)} end
  return job
end

-- The member of queued:<queue>: all scores are 0, so Redis orders members bytewise,
-- which is claim order: priority high to low (10 digits of 2^31 - 1 - priority), then
-- run_at (17 digits), then id. The backend keeps priority within 32 bits.
local function claim_member(job)
  local run_at = job.run_at
  if run_at < 0 then run_at = 0 end
  return string.format('%010d%017d', 2147483647 - job.priority, run_at) .. job.id
end

local CLAIM_MEMBER_ID_AT = 28     -- where the id starts in a claim member
local CLAIM_MEMBER_RUN_AT = {11, 27}

-- Fields of the 'waiting' hash a job counts in (keys.waiting_field builds the same).
local function waiting_fields(job)
  local fields = {'*', 'q:' .. job.queue}
  if job.tenant then
    local scoped = #job.tenant .. ':' .. job.tenant
    fields[3] = 't:' .. scoped
    fields[4] = 'tq:' .. scoped .. job.queue
  end
  return fields
end

-- Counters (stats, waiting jobs) change by deltas summed over the whole script and
-- written once by flush_pending(), which every script that moves jobs calls before it
-- returns: a batch of 1,000 jobs of one queue costs one HINCRBY per counter, not 1,000.
-- A counter disappears at zero, so the hashes stay as small as the live data.
local pending_counts = {}
-- Event ids come from k_event_seq, read once per script and written back once by
-- flush_pending() (a script runs alone, so nobody else takes ids meanwhile).
local next_event_id = false

local function count(hash, field, delta)
  local fields = pending_counts[hash]
  if not fields then
    fields = {}
    pending_counts[hash] = fields
  end
  fields[field] = (fields[field] or 0) + delta
end

local function flush_pending()
  for hash, fields in pairs(pending_counts) do
    for field, delta in pairs(fields) do
      if delta ~= 0 and redis.call('HINCRBY', hash, field, delta) <= 0 then
        redis.call('HDEL', hash, field)
      end
    end
  end
  pending_counts = {}
  if next_event_id then
    redis.call('SET', k_event_seq, int(next_event_id))
    next_event_id = false
  end
end

local function idempotency_field(tenant, key)
  local scope = tenant or ''
  return #scope .. ':' .. scope .. key
end

-- Take the job out of the structures of its current state (values as stored now).
-- `new` is the state it is going to, or nil when the job is being deleted.
local function leave(job, new)
  local old = job.state
  redis.call('ZREM', k_by_state(old), job.id)
  count(k_counts, old .. ':' .. job.queue, -1)
  if WAITING[old] and not WAITING[new] then
    for _, field in ipairs(waiting_fields(job)) do count(k_waiting, field, -1) end
    if job.expire_at then redis.call('ZREM', k_expiry(job.queue), job.id) end
  end
  if old == 'queued' then
    redis.call('ZREM', k_queued(job.queue), claim_member(job))
  elseif DUE[old] then
    redis.call('ZREM', k_due, job.id)
    redis.call('ZREM', k_due_in_queue(job.queue), job.id)
  elseif old == 'running' then
    redis.call('ZREM', k_leases, job.id)
  elseif TERMINAL[old] then
    redis.call('ZREM', k_finished, job.id)
  end
end

-- Put the job into the structures of job.state (its new state; run_at, finished_at and
-- lease_expires_at already hold their new values). `old` is nil for a new job.
local function enter(job, old)
  local new = job.state
  redis.call('ZADD', k_by_state(new), 0, job.id)
  count(k_counts, new .. ':' .. job.queue, 1)
  if WAITING[new] and not WAITING[old] then
    for _, field in ipairs(waiting_fields(job)) do count(k_waiting, field, 1) end
    if job.expire_at then redis.call('ZADD', k_expiry(job.queue), int(job.expire_at), job.id) end
  end
  if new == 'queued' then
    redis.call('ZADD', k_queued(job.queue), 0, claim_member(job))
  elseif DUE[new] then
    redis.call('ZADD', k_due, int(job.run_at), job.id)
    redis.call('ZADD', k_due_in_queue(job.queue), int(job.run_at), job.id)
  elseif new == 'running' then
    redis.call('ZADD', k_leases, int(job.lease_expires_at), job.id)
  elseif TERMINAL[new] then
    redis.call('ZADD', k_finished, int(job.finished_at), job.id)
  end
end

-- Append a lifecycle event: the next id of the never-reset sequence, kept in the
-- global log (scored by id) and in the job's own list.
local function append_event(id, at, kind, state, reason, data)
  if not next_event_id then
    next_event_id = tonumber(redis.call('GET', k_event_seq) or '0')
  end
  next_event_id = next_event_id + 1
  local event_id = next_event_id
  local record = cjson.encode({
    i = event_id, j = id, t = int(at), k = kind,
    s = state or cjson.null, r = reason or cjson.null, d = data,
  })
  redis.call('ZADD', k_events, event_id, record)
  redis.call('RPUSH', k_job_events(id), record)
end

-- Move `job` to state `new` at `now` for `reason`. `set` is a flat list of further
-- hash fields to write, `del` the fields to delete. The event carries the attempt
-- number, and the error when it ends a running attempt (as SQLite's triggers do).
local function transition(job, new, now, reason, set, del)
  local old = job.state
  leave(job, new)
  job.state = new
  enter(job, old)
  local key = k_job(job.id)
  redis.call('HSET', key, 'state', new, 'reason', reason, unpack(set))
  if #del > 0 then redis.call('HDEL', key, unpack(del)) end
  local data = {attempt = job.attempts}
  if old == 'running' and job.error then data.error = job.error end
  append_event(job.id, now, 'state', new, reason, data)
end

local function start_attempt(id, number, now, worker_id)
  redis.call('HSET', k_attempts(id), int(number),
    cjson.encode({n = number, s = int(now), w = worker_id}))
end

-- Close the job's current attempt (job.attempts, started at job.started_at by
-- job.worker_id, as claim recorded them): outcome is the job's new reason,
-- error_message its error summary; `err` (type, message, traceback), when the worker
-- sent one, replaces them. Written whole, without reading the open record back.
local function end_attempt(job, now, outcome, summary, err)
  local attempt = {
    n = job.attempts, s = job.started_at, w = job.worker_id or cjson.null,
    f = int(now), o = outcome, em = summary or cjson.null,
  }
  if err then
    attempt.et = err.type
    attempt.em = err.message
    attempt.tb = err.traceback or cjson.null
  end
  redis.call('HSET', k_attempts(job.id), int(job.attempts), cjson.encode(attempt))
end

-- Delete a job with everything that refers to it (delete_job, prune).
local function destroy(job)
  local id = job.id
  local extra = redis.call('HMGET', k_job(id), 'type', 'idempotency_key')
  leave(job, nil)
  redis.call('ZREM', k_all, id)
  redis.call('ZREM', k_by_type(extra[1]), id)
  redis.call('ZREM', k_by_queue(job.queue), id)
  if job.tenant then redis.call('ZREM', k_by_tenant(job.tenant), id) end
  if extra[2] then
    redis.call('ZREM', k_by_idempotency_key(extra[2]), id)
    local field = idempotency_field(job.tenant, extra[2])
    if redis.call('HGET', k_idempotency, field) == id then
      redis.call('HDEL', k_idempotency, field)
    end
  end
  local events = redis.call('LRANGE', k_job_events(id), 0, -1)
  for i = 1, #events, 500 do
    redis.call('ZREM', k_events, unpack(events, i, math.min(i + 499, #events)))
  end
  redis.call('DEL', k_job(id), k_attempts(id), k_job_events(id))
end

local function wake(queues)
  for queue in pairs(queues) do redis.call('PUBLISH', k_wake(queue), '1') end
end
