-- KEYS[1]: the workspace's saved replies hash (id → JSON).
-- ARGV: id, shortcut, the reply's JSON, '1' to create (else replace), the most replies kept.
-- The shortcut check and the write in one step: two editors saving one shortcut at once get
-- one success and one 'taken'. Compared as plain strings: nothing here is a pattern.
local all = redis.call('HGETALL', KEYS[1])
local found = false
for i = 1, #all, 2 do
  if all[i] == ARGV[1] then
    found = true
  elseif cjson.decode(all[i + 1]).shortcut == ARGV[2] then
    return 'taken'
  end
end
if ARGV[4] == '1' then
  if found then return 'taken' end
  if #all / 2 >= tonumber(ARGV[5]) then return 'limit' end
elseif not found then
  return 'not_found'
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 'ok'
