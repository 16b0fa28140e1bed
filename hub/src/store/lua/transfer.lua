-- KEYS: standard (see common.lua)
-- ARGV: actor id, "1" if the actor may transfer others' conversations (owner, editor),
--       recipient id, recipient JSON, the epoch the actor saw, at
-- The rules of control::transfer, in its order: epoch, holder, role, recipient. The holder
-- changes in place: the conversation stays in the held set and the AI never holds it.
if not exists() then return 'not_found' end
local v = redis.call('HMGET', meta, 'holder_id', 'holder', 'epoch')
local holder, from, epoch = v[1], v[2], v[3]
if epoch ~= ARGV[5] then return result('control_changed') end
if holder == '' then return result('not_controlled') end
local by = ''
if holder ~= ARGV[1] then
  if ARGV[2] ~= '1' then return result('role_required') end
  by = ',"by":' .. cjson.encode(ARGV[1])
end
if ARGV[3] == holder or ARGV[3] == ARGV[1] then return result('transfer_to_self') end
local new_epoch = redis.call('HINCRBY', meta, 'epoch', 1)
local _, event = push('"type":"operator_transferred","from":' .. from .. ',"to":' .. ARGV[4]
  .. ',"epoch":' .. new_epoch .. by .. '}', ARGV[6],
  {'holder_id', ARGV[3], 'holder', ARGV[4], 'needs_human', '0', 'holder_act', ARGV[6],
   'holder_since', ARGV[6], 'cv', new_version()})
return result('ok', event)
