-- Shared by every conversation script (prepended to each). Every key a script touches is one of
-- its KEYS, and all of them carry the workspace's hash tag, so that they lie in one Redis
-- Cluster slot (store/redis/mod.rs: the layout):
-- KEYS[1]: the conversation's meta hash; KEYS[2]: its history stream; KEYS[3]: the
-- workspace's Online list; KEYS[4]: the workspace's held set; KEYS[5]: the workspace's
-- human-wait set; KEYS[6]: the conversation's dedupe hash (append.lua), kept as long as the
-- meta once it exists (`dk` in the meta: its expiry is set).
-- Control state lives in three fields: `holder_id` ("" while the AI holds it), `holder` (the
-- operator's JSON) and `epoch`. These scripts apply exactly the rules of hub/src/control.rs.
-- `cv` versions the meta's slow-changing fields (all but seq, last_act, last_msg and active):
-- every script that changes one of them gives it a new value, in the HSET that makes the change
-- (push's, when the change records an event) or with `touch`, so that a node that
-- holds the fields of version `cv` need not have them sent again with every message
-- (append.lua, store/redis/known.rs). Its new values: `new_version` (version.lua, before this).
local meta, history, online, held, humanwait, dedupe = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5],
  KEYS[6]

local function exists()
  return redis.call('EXISTS', meta) == 1
end

-- A slow-changing field of the meta changed (see `cv` above).
local function touch()
  redis.call('HSET', meta, 'cv', new_version())
end

-- Record one event under `seq` (a string) and return its JSON. `rest`: its body without seq and
-- at, after the opening brace (`"type":…}`): the event is made with one concatenation, its body
-- not copied first (every string a script makes is hashed whole: Lua's string table, patched in
-- Redis to hash every byte). `set`: the field/value pairs for the meta hash, its first `n`
-- filled (seq, last_act and active first, then the caller's); the bookkeeping below adds its
-- own and one HSET writes them all. `active`, `listed_at`, `kept_at`: the meta's values before
-- this event. Every command inside a script costs Redis as much as a small command from a client
-- (callgrind: about 12,000 instructions), on every message: this does three, sometimes four.
--
-- Every write keeps the conversation for the retention period after its last activity, then
-- Redis drops its keys. Renewing their TTLs costs commands, so it is done when the last
-- renewal (`kept_at`) is older than a tenth of the period, to 1.1 periods: a conversation lives
-- at least the retention period after its last activity, at most 1.1 (__RENEW_MS__ and
-- __TTL_MS__ are substituted when the script is built). The dedupe hash is renewed with them
-- (a no-op while it does not exist; append.lua renews all three when it makes it).
-- The Online list is rescored at most once a second per conversation (`listed_at`), and always
-- when it comes back to the list: its order is the last activity to the second, and each ZADD
-- would be a command on every message.
local function record(seq, at, rest, set, n, active, listed_at, kept_at)
  local event = '{"seq":' .. seq .. ',"at":' .. at .. ',' .. rest
  redis.call('XADD', history, '0-' .. seq, 'e', event)
  local now = tonumber(at)
  if active ~= '1' or not listed_at or now - tonumber(listed_at) >= 1000 then
    redis.call('ZADD', online, at, meta)
    set[n + 1], set[n + 2], n = 'listed_at', at, n + 2
  end
  if not kept_at or now - tonumber(kept_at) >= __RENEW_MS__ then
    redis.call('PEXPIRE', meta, __TTL_MS__)
    redis.call('PEXPIRE', history, __TTL_MS__)
    redis.call('PEXPIRE', dedupe, __TTL_MS__)
    set[n + 1], set[n + 2] = 'kept_at', at
  end
  redis.call('HSET', meta, unpack(set))
  return event
end

-- Append one event under the next seq (record, above): how every script but the append records
-- one. Returns seq and the event JSON. `fields`: more field/value pairs for the meta hash.
local function push(rest, at, fields)
  local v = redis.call('HMGET', meta, 'seq', 'active', 'kept_at', 'listed_at')
  local seq = tostring(tonumber(v[1]) + 1)
  local set = {'seq', seq, 'last_act', at, 'active', '1'}
  for _, f in ipairs(fields) do set[#set + 1] = f end
  return seq, record(seq, at, rest, set, #set, v[2], v[4], v[3])
end

-- Hand control back to the AI (the holder is known to hold it): bump the epoch, record the
-- operator_left event. `by` is '' or a JSON fragment `,"by":"…"`.
local function hand_back(reason, by, at)
  local operator = redis.call('HGET', meta, 'holder')
  local epoch = redis.call('HINCRBY', meta, 'epoch', 1)
  redis.call('SREM', held, meta)
  local rest = '"type":"operator_left","operator":' .. operator .. ',"epoch":' .. epoch
    .. ',"reason":"' .. reason .. '"' .. by .. '}'
  local _, event = push(rest, at, {'holder_id', '', 'holder', '', 'cv', new_version()})
  return event
end

-- The meta fields the hub reads: META_FIELDS in store/redis/script.rs, substituted for the __META__
-- placeholder; their number and each one's position are substituted too (store/redis/script.rs: lua).

-- `v`: the values of __META__ in order, as HMGET gives them (more values after them are
-- ignored). One string, joined by the unit separator, a missing one empty: the hub parses one
-- reply value instead of thirteen (store/redis/script.rs: unpack).
local function pack(v)
  for i = 1, __META_N__ do
    if not v[i] then v[i] = '' end
  end
  return table.concat(v, '\31', 1, __META_N__)
end

-- Every script's reply: status, event JSON, the packed meta, an extra value, in one string with
-- '\30' between them (like pack, and for the same reason: one bulk string costs the hub's reply
-- parser far less than an array of four). `values`: the meta as the script already knows it (as
-- for pack), else it is read here. A missing conversation's reply is just 'not_found'.
local function result(status, event, extra, values)
  local packed = pack(values or redis.call('HMGET', meta, __META__))
  return status .. '\30' .. (event or '') .. '\30' .. packed .. '\30' .. (extra or '')
end
