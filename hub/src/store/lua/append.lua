-- KEYS: standard (see common.lua)
-- ARGV: fence kind (visitor|ai|operator), fence arg (epoch or operator id), dedupe field ("" for
--       none), event body JSON, at, preview JSON ("" to keep), needs_human ("1" to set, and
--       enter the human-wait set),
--       then optionally a publish command (PUBLISH, or SPUBLISH on Redis Cluster, whose shard
--       channel has the workspace's hash tag too), a channel, head and tail: the stored event is
--       published there as head .. event .. tail, in this same step (one round trip for a whole
--       message)
-- The hot path of every message: it reads the meta hash with one HMGET (every field the reply
-- carries, and its dedupe entry, a field 'd:' .. key), writes it with one HSET, and builds the
-- reply's meta from what it read and wrote instead of reading it again.
local dd = ARGV[3]
local mark = dd ~= '' and ('d:' .. dd) or nil
local state = redis.call('HMGET', meta, __META__, 'kept_at', 'listed_at', mark or 'seq')
local holder, epoch, ws, seq = state[__AT_holder_id__], state[__AT_epoch__],
  state[__AT_ws__], state[__AT_seq__]
local kept_at, listed_at, marked = state[__META_N__ + 1], state[__META_N__ + 2], state[__META_N__ + 3]
-- Every conversation has its workspace (set at creation): none means no conversation.
if not ws then return 'not_found' end
local kind, arg = ARGV[1], ARGV[2]
if kind == 'ai' then
  if holder ~= '' or epoch ~= arg then return result('stale_epoch', nil, nil, state) end
elseif kind == 'operator' then
  if holder == '' then return result('not_controlled', nil, nil, state) end
  if holder ~= arg then return result('not_holder', nil, nil, state) end
end
if mark and marked then
  local e = redis.call('XRANGE', history, '0-' .. marked, '0-' .. marked)
  return result('duplicate', e[1] and e[1][2][2] or '', nil, state)
end
local fields = {}
if kind == 'operator' then
  fields[#fields + 1] = 'holder_act'
  fields[#fields + 1] = ARGV[5]
end
if ARGV[6] ~= '' then
  fields[#fields + 1] = 'last_msg'
  fields[#fields + 1] = ARGV[6]
end
if ARGV[7] == '1' then
  for _, v in ipairs({'needs_human', '1', 'human_at', ARGV[5]}) do fields[#fields + 1] = v end
  redis.call('ZADD', humanwait, ARGV[5], meta)
end
local seen = {seq = seq, active = state[__AT_active__], kept_at = kept_at, listed_at = listed_at}
local new_seq, event = push(ARGV[4], ARGV[5], fields, mark, seen)
if ARGV[8] and ARGV[8] ~= '' then redis.call(ARGV[8], ARGV[9], ARGV[10] .. event .. ARGV[11]) end
-- The meta as push and the fields above left it (the conformance suite checks it against a
-- fresh read).
state[__AT_seq__] = new_seq
state[__AT_last_act__] = ARGV[5]
state[__AT_active__] = '1'
if ARGV[6] ~= '' then state[__AT_last_msg__] = ARGV[6] end
if ARGV[7] == '1' then state[__AT_needs_human__] = '1' end
-- The caller has the new event already (it sent the body, and the meta has the seq): not sent back.
return result('ok', nil, nil, state)
