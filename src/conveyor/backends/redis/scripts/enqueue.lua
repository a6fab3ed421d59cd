-- enqueue: (nothing) -> queued | scheduled, for a batch of jobs, in order.
-- ARGV: now ('' = the server's clock), jobs: a JSON array with one array of 11 strings
--   per job: id, type, payload, queue, priority, max_attempts, tenant?, idempotency_key?,
--   run_at?, expire_at?, meta? ('?': '' for none, '=' .. value otherwise). One JSON
--   argument instead of 11 per job: packing thousands of arguments costs the client
--   more than cjson costs the server.
-- Returns {now, r1, r2, ...}: r = 0 when the job was stored as given, else the HGETALL
-- of the job that already holds its (tenant, idempotency key) or its id. Idempotency
-- is decided here, atomically: of concurrent submissions of one key exactly one is
-- stored, whatever the number of clients.
local now = store_now(ARGV[1])
local out = {now}
local woken = {}
for _, a in ipairs(cjson.decode(ARGV[2])) do
  local id = a[1]
  local tenant = opt(a[7])
  local key = opt(a[8])
  local existing = false
  if redis.call('EXISTS', k_job(id)) == 1 then
    existing = id  -- the same job sent again (e.g. a retry after a lost reply)
  elseif key then
    local field = idempotency_field(tenant, key)
    existing = redis.call('HGET', k_idempotency, field)
    if not existing then redis.call('HSET', k_idempotency, field, id) end
  end
  if existing then
    out[#out + 1] = redis.call('HGETALL', k_job(existing))
  else
    local run_at_arg = opt(a[9])
    local run_at = run_at_arg and tonumber(run_at_arg) or now
    local expire_at = opt(a[10])
    local meta = opt(a[11])
    local state = 'queued'
    if run_at > now then state = 'scheduled' end
    local job = {
      id = id, state = state, queue = a[4], priority = tonumber(a[5]),
      run_at = run_at, tenant = tenant, expire_at = expire_at and tonumber(expire_at),
      attempts = 0,
    }
    local fields = {
      'id', id, 'type', a[2], 'state', state, 'payload', a[3],
      'reason', 'enqueued', 'attempts', '0', 'max_attempts', a[6],
      'queue', job.queue, 'priority', a[5], 'cancel_requested', '0',
      'created_at', int(now), 'run_at', int(run_at),
    }
    if tenant then fields[#fields + 1] = 'tenant'; fields[#fields + 1] = tenant end
    if key then fields[#fields + 1] = 'idempotency_key'; fields[#fields + 1] = key end
    if expire_at then fields[#fields + 1] = 'expire_at'; fields[#fields + 1] = expire_at end
    if meta then fields[#fields + 1] = 'meta'; fields[#fields + 1] = meta end
    redis.call('HSET', k_job(id), unpack(fields))
    redis.call('ZADD', k_all, 0, id)
    redis.call('ZADD', k_by_type(a[2]), 0, id)
    redis.call('ZADD', k_by_queue(job.queue), 0, id)
    if tenant then redis.call('ZADD', k_by_tenant(tenant), 0, id) end
    if key then redis.call('ZADD', k_by_idempotency_key(key), 0, id) end
    enter(job, nil)
    append_event(id, now, 'state', state, 'enqueued', {})
    if state == 'queued' then woken[job.queue] = true end
    out[#out + 1] = 0
  end
end
flush_pending()
wake(woken)
return out
