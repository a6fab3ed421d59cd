-- create an API key: its record, its place in the creation-ordered list, and the
-- lookup from its hash; key_hash is unique (a second key with one hash is refused).
-- ARGV: now, id, key_hash, tenant?, admin (0/1), name?. Returns the record's HGETALL.
local now = store_now(ARGV[1])
local id = ARGV[2]
local key_hash = ARGV[3]
if redis.call('HSETNX', k_api_key_hashes, key_hash, id) == 0 then
  return redis.error_reply('an API key with this hash already exists')
end
local fields = {'id', id, 'admin', ARGV[5], 'created_at', int(now)}
local tenant = opt(ARGV[4])
local name = opt(ARGV[6])
if tenant then fields[#fields + 1] = 'tenant'; fields[#fields + 1] = tenant end
if name then fields[#fields + 1] = 'name'; fields[#fields + 1] = name end
redis.call('HSET', k_api_key(id), unpack(fields))
redis.call('ZADD', k_api_keys, int(now), id)
return redis.call('HGETALL', k_api_key(id))
