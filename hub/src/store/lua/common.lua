-- Shared by every store script (prepended to each).
-- KEYS[1]: the conversation's meta hash; KEYS[2]: the prefix of workspace Online-list keys
-- (the full key, KEYS[2] .. workspace .. ':active', is derived here so that a message costs one
-- round trip: this needs a single Redis primary, not Redis Cluster); KEYS[3]: the global
-- active set; KEYS[4]: the set of conversations an operator holds.
-- Control state lives in three fields: `holder_id` ("" while the AI holds it), `holder` (the
-- operator's JSON) and `epoch`. These scripts apply exactly the rules of hub/src/control.rs.
local meta = KEYS[1]

-- `ws`: the workspace when the caller already read it (saves a command), else nil.
local function online_key(ws)
  return KEYS[2] .. (ws or redis.call('HGET', meta, 'ws')) .. ':active'
end

local function exists()
  return redis.call('EXISTS', meta) == 1
end

-- Append one event (its JSON body without seq/at, starting with '{') under the next seq.
-- Returns seq and the full event JSON. `ws` as for online_key; `fields`: more field/value pairs
-- for the meta hash, written by the same HSET (each command inside a script costs Redis time on
-- every message).
-- Every write keeps the conversation for the retention period (substituted when the script is
-- built) after its last activity; then Redis drops its keys.
local function keep()
  redis.call('EXPIRE', meta, __RETENTION__)
  redis.call('EXPIRE', meta .. ':ev', __RETENTION__)
  redis.call('EXPIRE', meta .. ':dd', __RETENTION__)
end

local function push(body, at, ws, fields)
  local seq = redis.call('HINCRBY', meta, 'seq', 1)
  local event = '{"seq":' .. seq .. ',"at":' .. at .. ',' .. string.sub(body, 2)
  redis.call('XADD', meta .. ':ev', '0-' .. seq, 'e', event)
  local set = {'last_act', at, 'active', '1'}
  for _, v in ipairs(fields or {}) do set[#set + 1] = v end
  redis.call('HSET', meta, unpack(set))
  redis.call('ZADD', online_key(ws), at, meta)
  redis.call('ZADD', KEYS[3], at, meta)
  keep()
  return seq, event
end

-- Hand control back to the AI (the holder is known to hold it): bump the epoch, record the
-- operator_left event. `by` is '' or a JSON fragment `,"by":"…"`.
local function hand_back(reason, by, at)
  local operator = redis.call('HGET', meta, 'holder')
  local epoch = redis.call('HINCRBY', meta, 'epoch', 1)
  redis.call('HSET', meta, 'holder_id', '', 'holder', '')
  redis.call('SREM', KEYS[4], meta)
  local body = '{"type":"operator_left","operator":' .. operator .. ',"epoch":' .. epoch
    .. ',"reason":"' .. reason .. '"' .. by .. '}'
  local _, event = push(body, at)
  return event
end

-- The meta fields the hub reads (META_FIELDS in store/redis.rs, substituted) as one string,
-- joined by the unit separator, a missing one empty: the hub parses one reply value instead of
-- thirteen (store/redis.rs: unpack).
local function meta_values()
  local v = redis.call('HMGET', meta, __META__)
  for i = 1, #v do
    if not v[i] then v[i] = '' end
  end
  return table.concat(v, '\31')
end

-- Every script's reply: status, event JSON, the packed meta, an extra value.
local function result(status, event, extra)
  return {status, event or '', meta_values(), extra or ''}
end
