-- reap: running -> queued (attempts left, reason lease_expired) | dead (attempts used
-- up) | cancelled (its cancellation was requested), for leases that expired before
-- now, oldest lease first. The worker that held them crashed or stopped heartbeating.
-- ARGV: now, limit, error (the job's error for the attempt that ended).
-- Returns the ids reaped.
local now = store_now(ARGV[1])
local limit = tonumber(ARGV[2])
local error_text = ARGV[3]
local reaped = {}
local woken = {}
local ids = redis.call('ZRANGEBYSCORE', k_leases, '-inf', '(' .. int(now), 'LIMIT', 0, limit)
for _, id in ipairs(ids) do
  local job = load_job(id)
  if job and job.state == 'running' then
    job.error = error_text
    local set = {'error', error_text}
    local del = {'lease_token', 'lease_expires_at'}
    local new, reason
    if job.cancel_requested then
      new, reason = 'cancelled', 'cancelled'
    elseif job.attempts < job.max_attempts then
      new, reason = 'queued', 'lease_expired'
    else
      new, reason = 'dead', 'lease_expired'
    end
    if new == 'queued' then
      job.run_at = now
      set[#set + 1] = 'run_at'; set[#set + 1] = int(now)
      woken[job.queue] = true
    else
      job.finished_at = now
      set[#set + 1] = 'finished_at'; set[#set + 1] = int(now)
    end
    transition(job, new, now, reason, set, del)
    end_attempt(job, now, reason, error_text, false)
    reaped[#reaped + 1] = id
  else
    redis.call('ZREM', k_leases, id)
  end
end
flush_pending()
wake(woken)
return reaped
