-- KEYS: global active zset.  ARGV: cutoff.
-- Visitors counted online whose node stopped refreshing them (it died) are counted offline.
local out = {}
for _, meta in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local vconn = tonumber(redis.call('HGET', meta, 'vconn') or '0')
  local seen = tonumber(redis.call('HGET', meta, 'vseen') or '0')
  if vconn > 0 and seen < tonumber(ARGV[1]) then
    redis.call('HSET', meta, 'vconn', '0')
    table.insert(out, redis.call('HMGET', meta, __META__))
  end
end
return out
