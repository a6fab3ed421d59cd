-- revoke an API key; idempotent (a revoked key keeps its first revoked_at). The hash
-- lookup stays, so find_api_key can tell the key is revoked.
-- ARGV: now, id. Returns the record's HGETALL after the step, or nil if unknown.
local now = store_now(ARGV[1])
local key = k_api_key(ARGV[2])
if redis.call('EXISTS', key) == 0 then return false end
redis.call('HSETNX', key, 'revoked_at', int(now))
return redis.call('HGETALL', key)
