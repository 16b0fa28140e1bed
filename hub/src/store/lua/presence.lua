-- KEYS: standard (see common.lua)
-- ARGV: delta, at
if not exists() then return 'not_found' end
local n = redis.call('HINCRBY', meta, 'vconn', ARGV[1])
if n < 0 then redis.call('HSET', meta, 'vconn', 0) end
touch()
if tonumber(ARGV[1]) > 0 then
  local last = tonumber(redis.call('HGET', meta, 'last_act'))
  local at = tonumber(ARGV[2])
  if at > last then redis.call('HSET', meta, 'last_act', ARGV[2]) else at = last end
  redis.call('HSET', meta, 'active', '1', 'vseen', ARGV[2])
  redis.call('ZADD', online, at, meta)
end
return result('ok')
