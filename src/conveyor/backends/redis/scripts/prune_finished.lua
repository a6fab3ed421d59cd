-- prune: delete terminal jobs finished before older_than, oldest first, with their
-- attempts, events and index entries, so memory follows the result TTL.
-- ARGV: older_than (µs), limit. Returns how many jobs were deleted.
local ids = redis.call('ZRANGEBYSCORE', k_finished, '-inf', '(' .. ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local pruned = 0
for _, id in ipairs(ids) do
  local job = load_job(id)
  if job and TERMINAL[job.state] then
    destroy(job)
    pruned = pruned + 1
  else
    redis.call('ZREM', k_finished, id)
  end
end
flush_pending()
return pruned
