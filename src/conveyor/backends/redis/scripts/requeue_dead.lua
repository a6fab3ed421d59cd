-- manual retry: dead -> queued (reason manual_retry) with room for one more attempt.
-- ARGV: now, id. Returns {moved (0/1), HGETALL after the step}, or nil.
local now = store_now(ARGV[1])
local id = ARGV[2]
local job = load_job(id)
if not job then return false end
local moved = 0
if job.state == 'dead' then
  local max_attempts = math.max(job.max_attempts, job.attempts + 1)
  job.run_at = now
  job.error = false
  transition(job, 'queued', now, 'manual_retry', {
    'run_at', int(now), 'cancel_requested', '0', 'max_attempts', int(max_attempts),
  }, {'finished_at', 'error'})
  flush_pending()
  wake({[job.queue] = true})
  moved = 1
end
return {moved, redis.call('HGETALL', k_job(id))}
