-- KEYS: standard (see common.lua).  ARGV: cutoff, at.
-- A request for a human older than the cutoff that nobody answered (the AI still holds the
-- conversation): clear the flag and record human_request_expired, once. A stale entry (someone
-- took over, or it was already expired) just leaves the wait set.
if not exists() then
  redis.call('ZREM', humanwait, meta)
  return 'not_found'
end
local requested = tonumber(redis.call('HGET', meta, 'human_at') or '0')
if redis.call('HGET', meta, 'needs_human') ~= '1' or redis.call('HGET', meta, 'holder_id') ~= '' then
  redis.call('ZREM', humanwait, meta)
  return result('seen')
end
if requested > tonumber(ARGV[1]) then return result('waiting') end
redis.call('ZREM', humanwait, meta)
local waited = tonumber(ARGV[2]) - requested
local _, event = push('"type":"human_request_expired","waited_ms":' .. waited .. '}', ARGV[2],
  {'needs_human', '0', 'cv', new_version()})
return result('ok', event)
