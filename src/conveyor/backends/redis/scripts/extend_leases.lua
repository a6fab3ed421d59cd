-- heartbeat: running -> running with the lease extended to now + lease_us, only for
-- jobs still running under the given token (a worker that lost a job cannot renew it).
-- ARGV: now, lease_us, then (id, lease_token) pairs. Returns the ids renewed.
local now = store_now(ARGV[1])
local lease_until = int(now + tonumber(ARGV[2]))
local renewed = {}
for i = 3, #ARGV, 2 do
  local id = ARGV[i]
  local v = redis.call('HMGET', k_job(id), 'state', 'lease_token')
  if v[1] == 'running' and v[2] == ARGV[i + 1] then
    redis.call('HSET', k_job(id), 'lease_expires_at', lease_until)
    redis.call('ZADD', k_leases, lease_until, id)
    renewed[#renewed + 1] = id
  end
end
return renewed
