-- KEYS: standard (see common.lua)
-- ARGV: operator id, operator JSON, at
if not exists() then return 'not_found' end
local holder = redis.call('HGET', meta, 'holder_id')
if holder == ARGV[1] then return result('unchanged') end
if holder ~= '' then return result('already_controlled', nil, redis.call('HGET', meta, 'holder')) end
local epoch = redis.call('HINCRBY', meta, 'epoch', 1)
redis.call('SADD', held, meta)
local _, event = push('"type":"operator_joined","operator":' .. ARGV[2] .. ',"epoch":' .. epoch .. '}', ARGV[3],
  {'holder_id', ARGV[1], 'holder', ARGV[2], 'needs_human', '0', 'holder_act', ARGV[3],
   'holder_since', ARGV[3], 'cv', new_version()})
return result('ok', event)
