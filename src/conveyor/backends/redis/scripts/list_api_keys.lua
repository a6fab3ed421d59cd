-- every API key (revoked ones too), oldest first (created_at, then id), of one tenant
-- if given. ARGV: tenant?. Returns a list of HGETALL replies.
local tenant = opt(ARGV[1])
local out = {}
for _, id in ipairs(redis.call('ZRANGE', k_api_keys, 0, -1)) do
  if not tenant or redis.call('HGET', k_api_key(id), 'tenant') == tenant then
    out[#out + 1] = redis.call('HGETALL', k_api_key(id))
  end
end
return out
