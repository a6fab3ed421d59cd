-- cancel: scheduled | queued | retrying | blocked -> cancelled; for a running job only
-- the cancel_requested flag is raised (with its event): the worker holding the lease
-- sees it and finishes the transition. Terminal jobs are left as they are.
-- ARGV: now, id, reason. Returns the job's HGETALL after the step, or nil.
local now = store_now(ARGV[1])
local id = ARGV[2]
local reason = ARGV[3]
local job = load_job(id)
if not job then return false end
if CANCELLABLE[job.state] then
  job.finished_at = now
  transition(job, 'cancelled', now, reason, {'finished_at', int(now)}, {})
elseif job.state == 'running' and not job.cancel_requested then
  redis.call('HSET', k_job(id), 'cancel_requested', '1')
  append_event(id, now, 'cancel_requested', 'running', reason, {})
end
flush_pending()
return redis.call('HGETALL', k_job(id))
