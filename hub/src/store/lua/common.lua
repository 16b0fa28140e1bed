-- Shared by every store script (prepended to each).
-- KEYS[1]: the conversation's meta hash; KEYS[2]: the prefix of workspace Online-list keys
-- (the full key, KEYS[2] .. workspace .. ':active', is derived here so that a message costs one
-- round trip: this needs a single Redis primary, not Redis Cluster); KEYS[3]: the global
-- active set.
-- Control state lives in three fields: `holder_id` ("" while the AI holds it), `holder` (the
-- operator's JSON) and `epoch`. These scripts apply exactly the rules of hub/src/control.rs.
local meta = KEYS[1]

local function online_key()
  return KEYS[2] .. redis.call('HGET', meta, 'ws') .. ':active'
end

local function exists()
  return redis.call('EXISTS', meta) == 1
end

-- Append one event (its JSON body without seq/at, starting with '{') under the next seq.
-- Returns seq and the full event JSON.
local function push(body, at)
  local seq = redis.call('HINCRBY', meta, 'seq', 1)
  local event = '{"seq":' .. seq .. ',"at":' .. at .. ',' .. string.sub(body, 2)
  redis.call('XADD', meta .. ':ev', '0-' .. seq, 'e', event)
  redis.call('HSET', meta, 'last_act', at, 'active', '1')
  redis.call('ZADD', online_key(), at, meta)
  redis.call('ZADD', KEYS[3], at, meta)
  return seq, event
end

local function result(status, event, extra)
  return {status, event or '', redis.call('HGETALL', meta), extra or ''}
end
