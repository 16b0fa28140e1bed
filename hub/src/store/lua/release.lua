-- KEYS: standard (see common.lua)
-- ARGV: actor id, "1" if the actor may force-release, "1" if force was asked, at, the epoch
--       the actor saw ("" when they did not say)
if not exists() then return 'not_found' end
local v = redis.call('HMGET', meta, 'holder_id', 'epoch')
local holder = v[1]
if ARGV[5] ~= '' and v[2] ~= ARGV[5] then return result('control_changed') end
if holder == '' then return result('not_controlled') end
local reason, by = 'ended', ''
if holder ~= ARGV[1] then
  if ARGV[3] ~= '1' then return result('not_holder') end
  if ARGV[2] ~= '1' then return result('role_required') end
  reason, by = 'force_released', ',"by":' .. cjson.encode(ARGV[1])
end
return result('ok', hand_back(reason, by, ARGV[4]))
