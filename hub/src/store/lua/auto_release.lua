-- KEYS: standard (see common.lua).  ARGV: holder id, epoch, reason, at
-- Applies only to the exact holding it was decided for, so it releases at most once.
if not exists() then return 'not_found' end
if redis.call('HGET', meta, 'holder_id') ~= ARGV[1] or redis.call('HGET', meta, 'epoch') ~= ARGV[2] then
  return result('unchanged')
end
return result('ok', hand_back(ARGV[3], '', ARGV[4]))
