-- finish: running -> succeeded | retrying | dead | cancelled | queued, as the executor
-- decided, for each outcome whose job is still running under its lease token; the
-- others (lease lost, finished already, stale token) are ignored.
-- ARGV: now, then 10 per outcome: id, lease_token, state, reason, result?, error?
--   (the summary), error_type?, error_message?, traceback?, retry_us.
-- Returns the ids applied.
local now = store_now(ARGV[1])
local applied = {}
local woken = {}
for i = 2, #ARGV, 10 do
  local id = ARGV[i]
  local job = load_job(id)
  if job and job.state == 'running' and job.lease_token == ARGV[i + 1] then
    local new = ARGV[i + 2]
    local reason = ARGV[i + 3]
    local result = opt(ARGV[i + 4])
    local summary = opt(ARGV[i + 5])
    local set = {}
    local del = {'lease_token', 'lease_expires_at'}
    if new == 'succeeded' and result then
      set[#set + 1] = 'result'; set[#set + 1] = result
    else
      del[#del + 1] = 'result'
    end
    job.error = summary
    if summary then
      set[#set + 1] = 'error'; set[#set + 1] = summary
    else
      del[#del + 1] = 'error'
    end
    if TERMINAL[new] then
      job.finished_at = now
      set[#set + 1] = 'finished_at'; set[#set + 1] = int(now)
    elseif new == 'retrying' then
      job.run_at = now + tonumber(ARGV[i + 9])
      set[#set + 1] = 'run_at'; set[#set + 1] = int(job.run_at)
    elseif new == 'queued' then
      job.run_at = now
      set[#set + 1] = 'run_at'; set[#set + 1] = int(now)
      woken[job.queue] = true
    end
    transition(job, new, now, reason, set, del)
    local error_type = opt(ARGV[i + 6])
    local err = false
    if error_type then
      err = {type = error_type, message = opt(ARGV[i + 7]) or '', traceback = opt(ARGV[i + 8])}
    end
    end_attempt(id, job.attempts, now, reason, summary, err)
    applied[#applied + 1] = id
  end
end
flush_pending()
wake(woken)
return applied
