-- list: jobs matching every given filter, newest (highest id) first, after the
-- cursor's id. The smallest index among the filters given drives the walk (every
-- index holds ids with score 0, so BYLEX walks them in id order); the other filters
-- are checked on the jobs it visits. At most `budget` jobs are visited per call.
-- ARGV: before? (exclusive id), want, budget, state?, type?, queue?, tenant?,
--   idempotency_key?.
-- Returns {resume, job...}: job = HGETALL; resume = the last id visited when the
-- budget ran out before `want` jobs matched (the page may continue after it), else nil.
local before = opt(ARGV[1])
local want = tonumber(ARGV[2])
local budget = tonumber(ARGV[3])
local filters = {
  {'state', opt(ARGV[4])}, {'type', opt(ARGV[5])}, {'queue', opt(ARGV[6])},
  {'tenant', opt(ARGV[7])}, {'idempotency_key', opt(ARGV[8])},
}
local index_of = {
  state = k_by_state, type = k_by_type, queue = k_by_queue, tenant = k_by_tenant,
  idempotency_key = k_by_idempotency_key,
}
local index = k_all
local smallest = nil
local fields = {}
for _, filter in ipairs(filters) do
  if filter[2] then
    fields[#fields + 1] = filter[1]
    local candidate = index_of[filter[1]](filter[2])
    local size = redis.call('ZCARD', candidate)
    if smallest == nil or size < smallest then index, smallest = candidate, size end
  end
end

local found = {}
local visited = 0
local last = false
local max = '+'
if before then max = '(' .. before end
while #found < want and visited < budget do
  local ids = redis.call('ZRANGE', index, max, '-', 'BYLEX', 'REV', 'LIMIT', 0, 100)
  if #ids == 0 then last = false; break end
  for _, id in ipairs(ids) do
    visited = visited + 1
    last = id
    local matches = true
    if #fields > 0 then
      local v = redis.call('HMGET', k_job(id), unpack(fields))
      local n = 0
      for _, filter in ipairs(filters) do
        if filter[2] then
          n = n + 1
          if v[n] ~= filter[2] then matches = false end
        end
      end
    end
    if matches then found[#found + 1] = id end
    if #found >= want or visited >= budget then break end
  end
  max = '(' .. last
end
local out = {false}
if #found < want and visited >= budget then out[1] = last end
for _, id in ipairs(found) do out[#out + 1] = redis.call('HGETALL', k_job(id)) end
return out
