-- promote: scheduled | retrying -> queued (reason due), every queue, earliest run_at
-- first, at most `limit` jobs. ARGV: now, limit. Returns how many were promoted.
local now = store_now(ARGV[1])
local ids = redis.call('ZRANGEBYSCORE', k_due, '-inf', int(now), 'LIMIT', 0, tonumber(ARGV[2]))
local promoted = 0
local woken = {}
for _, id in ipairs(ids) do
  local job = load_job(id)
  if job and DUE[job.state] then
    transition(job, 'queued', now, 'due', {}, {})
    woken[job.queue] = true
    promoted = promoted + 1
  else
    redis.call('ZREM', k_due, id)
  end
end
flush_pending()
wake(woken)
return promoted
