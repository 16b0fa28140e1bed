-- KEYS: meta, workspace key prefix, global active zset (see common.lua)
-- ARGV: fence kind (visitor|ai|operator), fence arg (epoch or operator id), dedupe field ("" for
--       none), event body JSON, at, preview JSON ("" to keep), needs_human ("1" to set, and
--       enter the human-wait set),
--       then optionally a channel, head and tail: the stored event is published there as
--       head .. event .. tail, in this same step (one round trip for a whole message)
if not exists() then return {'not_found', '', {}, ''} end
local kind, arg = ARGV[1], ARGV[2]
local holder = redis.call('HGET', meta, 'holder_id')
local epoch = redis.call('HGET', meta, 'epoch')
if kind == 'ai' then
  if holder ~= '' or epoch ~= arg then return result('stale_epoch') end
elseif kind == 'operator' then
  if holder == '' then return result('not_controlled') end
  if holder ~= arg then return result('not_holder') end
end
local dd = ARGV[3]
if dd ~= '' then
  local seen = redis.call('HGET', meta .. ':dd', dd)
  if seen then
    local e = redis.call('XRANGE', meta .. ':ev', '0-' .. seen, '0-' .. seen)
    return result('duplicate', e[1] and e[1][2][2] or '')
  end
end
if kind == 'operator' then redis.call('HSET', meta, 'holder_act', ARGV[5]) end
local seq, event = push(ARGV[4], ARGV[5])
if dd ~= '' then
  redis.call('HSET', meta .. ':dd', dd, seq)
  keep()
end
if ARGV[6] ~= '' then redis.call('HSET', meta, 'last_msg', ARGV[6]) end
if ARGV[7] == '1' then
  redis.call('HSET', meta, 'needs_human', '1', 'human_at', ARGV[5])
  -- The human-wait set sits next to the held set: same prefix, see store/redis.rs.
  redis.call('ZADD', string.sub(KEYS[4], 1, -5) .. 'humanwait', ARGV[5], meta)
end
if ARGV[8] and ARGV[8] ~= '' then redis.call('PUBLISH', ARGV[8], ARGV[9] .. event .. ARGV[10]) end
return result('ok', event)
