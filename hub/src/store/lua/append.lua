-- KEYS: standard (see common.lua)
-- ARGV: fence kind (visitor|ai|operator), fence arg (epoch or operator id), dedupe field ("" for
--       none), event body JSON after its opening brace (common.lua: push), at, preview JSON ("" to keep), needs_human ("1" to set, and
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
local dd = ARGV[3]
local keep_msg = ARGV[6] == ''
-- `d:{dd}`: where nodes before the dedupe hash kept a message's seq, read while conversations
-- they wrote may live (a message they stored and a newer node is asked again is still one).
local state = redis.call('HMGET', meta, 'ws', 'holder_id', 'epoch', 'seq', 'active', 'kept_at',
  'listed_at', 'cv', keep_msg and 'last_msg' or 'seq', dd ~= '' and ('d:' .. dd) or 'seq', 'dk')
local ws, holder, epoch, seq, cv = state[1], state[2], state[3], state[4], state[8] or '0'
-- Every conversation has its workspace (set at creation): none means no conversation.
if not ws then return 'not_found' end
local kind, arg = ARGV[1], ARGV[2]
if kind == 'ai' then
  if holder ~= '' or epoch ~= arg then return result('stale_epoch') end
elseif kind == 'operator' then
  if holder == '' then return result('not_controlled') end
  if holder ~= arg then return result('not_holder') end
end
local next_seq = tostring(tonumber(seq) + 1)
local seen = {seq = seq, next = next_seq, active = state[5], kept_at = state[6],
  listed_at = state[7]}
local fields = {}
-- Idempotency: the dedupe key → the seq it was stored under, in a hash of its own so that the
-- meta, read on every message, does not grow with the conversation (a listpack's field reads
-- scan it: store/redis/cost.rs measured the meta's HMGET at 5-6 µs with them in it). One
-- command checks and records it.
if dd ~= '' then
  local prior = state[10]
  if not prior and redis.call('HSETNX', dedupe, dd, next_seq) == 0 then
    prior = redis.call('HGET', dedupe, dd)
  end
  if prior then
    local e = redis.call('XRANGE', history, '0-' .. prior, '0-' .. prior)
    return result('duplicate', e[1] and e[1][2][2] or '')
  end
  if not state[11] then
    -- Just made, or made by a step that set no expiry yet: renewed with the meta below.
    seen.kept_at = nil
    fields[1], fields[2] = 'dk', '1'
  end
end
if kind == 'operator' then
  fields[#fields + 1] = 'holder_act'
  fields[#fields + 1] = ARGV[5]
end
if not keep_msg then
  fields[#fields + 1] = 'last_msg'
  fields[#fields + 1] = ARGV[6]
end
local cold = ARGV[7] == '1'
if cold then
  cv = new_version()
  for _, v in ipairs({'needs_human', '1', 'human_at', ARGV[5], 'cv', cv}) do fields[#fields + 1] = v end
  redis.call('ZADD', humanwait, ARGV[5], meta)
end
local new_seq, event = push(ARGV[4], ARGV[5], fields, seen)
if ARGV[8] ~= '' then redis.call(ARGV[8], ARGV[9], ARGV[10] .. event .. ARGV[11]) end
-- The caller has the new event already (it sent the body, and the meta has the seq): not sent back.
if not cold and cv == ARGV[12] then
  return 'okc\30\30' .. new_seq .. '\31' .. (keep_msg and state[9] or '') .. '\30' .. cv
end
return result('ok', nil, cv)
