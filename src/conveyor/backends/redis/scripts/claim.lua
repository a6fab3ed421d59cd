-- claim: for each queue, waiting -> cancelled (reason expired) for jobs past their
-- expire_at, then scheduled | retrying -> queued (reason due) for due jobs (each step
-- at most `step` jobs per queue), then queued -> running for up to `limit` jobs in
-- claim order across the queues, with one fresh lease for the batch. Each claimed job
-- moves from queued:<queue> to the leases set in this same step, so a worker killed
-- at any point loses nothing: the reaper finds its jobs there (reliable fetch).
-- ARGV: now, limit, worker_id, lease_us, lease_token, step, queue...
-- Returns {now, job...}: job = {id, type, payload, attempt, max_attempts, queue,
--   priority, tenant, idempotency_key, meta}.
local now = store_now(ARGV[1])
local limit = tonumber(ARGV[2])
local worker_id = ARGV[3]
local lease_until = now + tonumber(ARGV[4])
local token = ARGV[5]
local step = tonumber(ARGV[6])
local queues = {}
for i = 7, #ARGV do queues[#queues + 1] = ARGV[i] end

for _, queue in ipairs(queues) do
  local expired = redis.call('ZRANGEBYSCORE', k_expiry(queue), '-inf', int(now), 'LIMIT', 0, step)
  for _, id in ipairs(expired) do
    local job = load_job(id)
    if job and WAITING[job.state] then
      job.finished_at = now
      transition(job, 'cancelled', now, 'expired', {'finished_at', int(now)}, {})
    else
      redis.call('ZREM', k_expiry(queue), id)
    end
  end
  local due = redis.call('ZRANGEBYSCORE', k_due_in_queue(queue), '-inf', int(now), 'LIMIT', 0, step)
  for _, id in ipairs(due) do
    local job = load_job(id)
    if job and DUE[job.state] then
      transition(job, 'queued', now, 'due', {}, {})
    else
      redis.call('ZREM', k_due_in_queue(queue), id)
    end
  end
end

-- The first `limit` members of each queue, merged in claim order. Lua's string
-- comparison follows the server's locale, so several queues are merged by Redis
-- itself (bytewise) in a scratch set.
local candidates
if #queues == 1 then
  candidates = redis.call('ZRANGE', k_queued(queues[1]), 0, limit - 1)
else
  redis.call('DEL', k_claim_scratch)  -- a script that failed half-way may have left one
  for _, queue in ipairs(queues) do
    local members = redis.call('ZRANGE', k_queued(queue), 0, limit - 1)
    for i = 1, #members, 500 do
      local chunk = {}
      for j = i, math.min(i + 499, #members) do
        chunk[#chunk + 1] = 0
        chunk[#chunk + 1] = members[j]
      end
      redis.call('ZADD', k_claim_scratch, unpack(chunk))
    end
  end
  candidates = redis.call('ZRANGE', k_claim_scratch, 0, limit - 1)
  redis.call('DEL', k_claim_scratch)
end

local CLAIM_EXTRA = {'type', 'payload', 'idempotency_key', 'meta'}
local out = {now}
local taken = 0
for _, member in ipairs(candidates) do
  if taken >= limit then break end
  local run_at = tonumber(string.sub(member, 11, 27))
  if run_at <= now then
    local id = string.sub(member, 28)
    local job = load_job(id, CLAIM_EXTRA)
    if job and job.state == 'queued' then
      job.attempts = job.attempts + 1
      job.lease_expires_at = lease_until
      transition(job, 'running', now, 'claimed', {
        'attempts', int(job.attempts), 'lease_token', token,
        'lease_expires_at', int(lease_until), 'worker_id', worker_id, 'started_at', int(now),
      }, {})
      start_attempt(id, job.attempts, now, worker_id)
      local v = job.extra
      out[#out + 1] = {
        id, v[1], v[2], job.attempts, job.max_attempts, job.queue, job.priority,
        job.tenant, v[3], v[4],
      }
      taken = taken + 1
    end
  end
end
flush_pending()
return out
