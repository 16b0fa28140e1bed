-- KEYS: standard (see common.lua).  ARGV: cutoff.
-- A visitor counted online whose node stopped refreshing them (it died) is counted offline.
if not exists() then return 'not_found' end
local state = redis.call('HMGET', meta, 'vconn', 'vseen')
if tonumber(state[1] or '0') <= 0 or tonumber(state[2] or '0') >= tonumber(ARGV[1]) then
  return result('seen')
end
redis.call('HSET', meta, 'vconn', '0', 'cv', new_version())
return result('ok')
