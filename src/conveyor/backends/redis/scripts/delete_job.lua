-- delete: a terminal job with its attempts, events and index entries.
-- ARGV: id. Returns the job's HGETALL before the step (unchanged if it was not
-- terminal, then nothing is deleted), or nil.
local id = ARGV[1]
local job = load_job(id)
if not job then return false end
local before = redis.call('HGETALL', k_job(id))
if TERMINAL[job.state] then
  destroy(job)
  flush_pending()
end
return before
