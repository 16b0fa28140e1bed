-- KEYS[1]: the conversation's meta hash (a desk script: it does not take the standard keys).
-- ARGV: dedupe field (`n:{author}:{client id}`), the note's JSON without id and after_seq
--       (starting with '{'), the most notes kept.
-- Notes live in the meta hash itself (`note:{id}`, and `notes`, their count), so they share
-- the conversation's lifetime without another key to renew: a conversation and its notes
-- expire together.
local meta = KEYS[1]
local state = redis.call('HMGET', meta, 'ws', 'seq', 'notes', ARGV[1])
if not state[1] then return 'not_found' end
if state[4] then return 'dup\30' .. redis.call('HGET', meta, 'note:' .. state[4]) end
local n = tonumber(state[3] or '0')
if n >= tonumber(ARGV[3]) then return 'limit' end
n = n + 1
local note = '{"id":' .. n .. ',"after_seq":' .. (state[2] or '0') .. ',' .. string.sub(ARGV[2], 2)
redis.call('HSET', meta, 'notes', n, 'note:' .. n, note, ARGV[1], n)
return 'ok\30' .. note
