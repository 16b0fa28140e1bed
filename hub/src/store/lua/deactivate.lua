-- KEYS: standard (see common.lua).  ARGV: cutoff.
-- Takes the conversation off the Online list if its last activity is before the cutoff and its
-- visitor is gone (the sweep found it by its score; this decides, atomically).
if not exists() then
  -- Dropped by the retention period: nothing left to list.
  redis.call('ZREM', online, meta)
  return 'not_found'
end
local state = redis.call('HMGET', meta, 'last_act', 'vconn', 'active')
if tonumber(state[1]) >= tonumber(ARGV[1]) or tonumber(state[2] or '0') > 0 then
  return result('kept')
end
redis.call('HSET', meta, 'active', '0')
redis.call('ZREM', online, meta)
return result('ok')
