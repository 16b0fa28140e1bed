-- KEYS: global active zset.  ARGV: cutoff, workspace zset key prefix, max per call.
-- Takes idle conversations whose visitor is gone off the Online list; returns their metas.
local out = {}
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1], 'LIMIT', 0, ARGV[3])
for _, meta in ipairs(ids) do
  if redis.call('EXISTS', meta) == 0 then
    -- Dropped by the retention period: nothing left to list.
    redis.call('ZREM', KEYS[1], meta)
  elseif tonumber(redis.call('HGET', meta, 'vconn') or '0') <= 0 then
    local ws = redis.call('HGET', meta, 'ws')
    redis.call('HSET', meta, 'active', '0')
    redis.call('ZREM', KEYS[1], meta)
    if ws then redis.call('ZREM', ARGV[2] .. ws .. ':active', meta) end
    table.insert(out, redis.call('HMGET', meta, __META__))
  end
end
return out
