-- the active API key with this hash (one round trip per authenticated request).
-- ARGV: key_hash. Returns the record's HGETALL, or nil (unknown or revoked).
local id = redis.call('HGET', k_api_key_hashes, ARGV[1])
if not id then return false end
local record = redis.call('HGETALL', k_api_key(id))
for i = 1, #record, 2 do
  if record[i] == 'revoked_at' then return false end
end
return record
