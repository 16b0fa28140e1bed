-- KEYS: standard (see common.lua)
-- ARGV: fence kind (visitor|ai|operator), fence arg (epoch or operator id), dedupe field ("" for
--       none), event body JSON after its opening brace (common.lua: record), at, preview JSON ("" to keep), needs_human ("1" to set, and
--       enter the human-wait set), then a publish command (PUBLISH, or SPUBLISH on Redis
--       Cluster, whose shard channel has the workspace's hash tag too; "" for none), a channel,
--       head and tail: the stored event is published there as head .. event .. tail, in this
--       same step (one round trip for a whole message); then the version of the meta's
--       slow-changing fields (`cv`, common.lua) the caller already holds, "" for none.
-- The hot path of every message. It reads only what the rules need (fence, dedupe, sequence,
-- bookkeeping, `cv`) with one HMGET and writes with one HSET. When the caller's version of the
-- slow-changing fields is current, the reply is short ('okc': the new seq, and the last message
-- preview when the caller sent none): the caller has the rest. Otherwise the whole meta is read
-- and sent back with its version ('ok'). Reading and returning all fourteen fields on every
-- message was a third of the script's time (store/redis/cost.rs).
-- It fills the meta's HSET itself and calls `record`, not `push`: push's tables (what it was
-- told it read, the fields to add, the fields to write) and its copying loop were about 7 % of
-- Redis's instructions per message (store/redis/cost.rs under callgrind).
local dd, at = ARGV[3], ARGV[5]
local keep_msg = ARGV[6] == ''
-- `d:{dd}`: where nodes before the dedupe hash kept a message's seq, read while conversations
-- they wrote may live (a message they stored and a newer node is asked again is still one).
local state = redis.call('HMGET', meta, 'ws', 'holder_id', 'epoch', 'seq', 'active', 'kept_at',
  'listed_at', 'cv', keep_msg and 'last_msg' or 'seq', dd ~= '' and ('d:' .. dd) or 'seq', 'dk')
local ws, holder, epoch, kept_at, cv = state[1], state[2], state[3], state[6], state[8] or '0'
-- Every conversation has its workspace (set at creation): none means no conversation.
if not ws then return 'not_found' end
local kind, arg = ARGV[1], ARGV[2]
if kind == 'ai' then
  if holder ~= '' or epoch ~= arg then return result('stale_epoch') end
elseif kind == 'operator' then
  if holder == '' then return result('not_controlled') end
  if holder ~= arg then return result('not_holder') end
end
local seq = tostring(tonumber(state[4]) + 1)
local set, n = {'seq', seq, 'last_act', at, 'active', '1'}, 6
-- Idempotency: the dedupe key → the seq it was stored under, in a hash of its own so that the
-- meta, read on every message, does not grow with the conversation (a listpack's field reads
-- scan it: store/redis/cost.rs measured the meta's HMGET at 5-6 µs with them in it). One
-- command checks and records it.
if dd ~= '' then
  local prior = state[10]
  if not prior and redis.call('HSETNX', dedupe, dd, seq) == 0 then
    prior = redis.call('HGET', dedupe, dd)
  end
  if prior then
    local e = redis.call('XRANGE', history, '0-' .. prior, '0-' .. prior)
    return result('duplicate', e[1] and e[1][2][2] or '')
  end
  if not state[11] then
    -- Just made, or made by a step that set no expiry yet: renewed with the meta by record.
    kept_at = nil
    set[n + 1], set[n + 2], n = 'dk', '1', n + 2
  end
end
if kind == 'operator' then
  set[n + 1], set[n + 2], n = 'holder_act', at, n + 2
end
if not keep_msg then
  set[n + 1], set[n + 2], n = 'last_msg', ARGV[6], n + 2
end
local cold = ARGV[7] == '1'
if cold then
  cv = new_version()
  set[n + 1], set[n + 2], set[n + 3], set[n + 4], set[n + 5], set[n + 6], n =
    'needs_human', '1', 'human_at', at, 'cv', cv, n + 6
  redis.call('ZADD', humanwait, at, meta)
end
local event = record(seq, at, ARGV[4], set, n, state[5], state[7], kept_at)
if ARGV[8] ~= '' then redis.call(ARGV[8], ARGV[9], ARGV[10] .. event .. ARGV[11]) end
-- The caller has the new event already (it sent the body, and the meta has the seq): not sent back.
if not cold and cv == ARGV[12] then
  return 'okc\30\30' .. seq .. '\31' .. (keep_msg and state[9] or '') .. '\30' .. cv
end
return result('ok', nil, cv)
