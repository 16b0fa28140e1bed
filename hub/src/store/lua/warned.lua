-- KEYS: standard (see common.lua).  ARGV: epoch.  Returns 1 the first time an epoch is warned.
if not exists() then return 'not_found' end
if redis.call('HGET', meta, 'warned') == ARGV[1] then return result('seen') end
redis.call('HSET', meta, 'warned', ARGV[1])
return result('ok')
