-- finish: running -> succeeded | retrying | dead | cancelled | queued, as the executor
-- decided, for each outcome whose job is still running under its lease token; the
-- others (lease lost, finished already, stale token) are ignored.
-- ARGV: now, outcomes: a JSON array with one array of 10 strings per outcome: id,
--   lease_token, state, reason, result?, error? (the summary), error_type?,
--   error_message?, traceback?, retry_us (one argument: see enqueue.lua).
-- Returns the ids applied.
local now = store_now(ARGV[1])
local applied = {}
local woken = {}
for _, a in ipairs(cjson.decode(ARGV[2])) do
  local id = a[1]
  local job = load_job(id)
  if job and job.state == 'running' and job.lease_token == a[2] then
    local new = a[3]
    local reason = a[4]
    local result = opt(a[5])
    local summary = opt(a[6])
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
      job.run_at = now + tonumber(a[10])
      set[#set + 1] = 'run_at'; set[#set + 1] = int(job.run_at)
    elseif new == 'queued' then
      job.run_at = now
      set[#set + 1] = 'run_at'; set[#set + 1] = int(now)
      woken[job.queue] = true
    end
    transition(job, new, now, reason, set, del)
    local error_type = opt(a[7])
    local err = false
    if error_type then
      err = {type = error_type, message = opt(a[8]) or '', traceback = opt(a[9])}
    end
    end_attempt(job, now, reason, summary, err)
    applied[#applied + 1] = id
  end
end
flush_pending()
wake(woken)
return applied
