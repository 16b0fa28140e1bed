-- KEYS: the conversation's meta hash; the workspace's follow-up list (sorted set, scored by when
-- the wait began); its due emails (sorted set, scored by due time or the end of a claim's
-- lease). Members of both: conversation ids. All three carry the workspace's hash tag.
-- ARGV[1]: the step; ARGV[2]: the conversation id; the step's own arguments follow.
-- The rules are `Record` in store/follow_up.rs, step for step (the conformance suite runs both).
-- Replies: {'ok', reason, since, waiting, email, delivery JSON} when the step changed something,
-- {'same'} when it did not, {'claimed', email, from, upto, attempt, visitor id} for a claim,
-- {'none'} for `get` of a conversation that never waited, {'not_found'}.
local meta, list, due_set = KEYS[1], KEYS[2], KEYS[3]
local op, id = ARGV[1], ARGV[2]
if redis.call('EXISTS', meta) == 0 then
  -- Gone with its retention: its entries go too.
  redis.call('ZREM', list, id)
  redis.call('ZREM', due_set, id)
  return {'not_found'}
end
local f = redis.call('HMGET', meta, 'fu_reason', 'fu_since', 'fu_waiting', 'fu_email', 'fu_state',
  'mail_from', 'mail_upto', 'mail_due', 'mail_attempts', 'mail_claim')
local r = {
  reason = f[1] or '', since = f[2] or '0', waiting = f[3] == '1', email = f[4] or '',
  state = f[5] or '', from = f[6] or '0', upto = f[7] or '0', due = f[8] or '',
  attempts = f[9] or '0', claim = f[10] or '',
}

local function view()
  return {'ok', r.reason, r.since, r.waiting and '1' or '0', r.email, r.state}
end

local function save()
  local flag = (r.waiting or r.email ~= '') and '1' or '0'
  redis.call('HSET', meta, 'fu', flag, 'fu_reason', r.reason, 'fu_since', r.since,
    'fu_waiting', r.waiting and '1' or '0', 'fu_email', r.email, 'fu_state', r.state,
    'mail_from', r.from, 'mail_upto', r.upto, 'mail_due', r.due, 'mail_attempts', r.attempts,
    'mail_claim', r.claim,
    -- `fu` is one of the meta's slow-changing fields, versioned by `cv` (version.lua).
    'cv', new_version())
  if r.waiting then redis.call('ZADD', list, r.since, id) else redis.call('ZREM', list, id) end
  if r.due ~= '' then redis.call('ZADD', due_set, r.due, id) else redis.call('ZREM', due_set, id) end
  return view()
end

local same = {'same'}

if op == 'get' then
  if r.reason == '' then return {'none'} end
  return view()
elseif op == 'mark' then
  -- ARGV[3]: reason, ARGV[4]: at
  if r.waiting then return same end
  r.reason, r.since, r.waiting = ARGV[3], ARGV[4], true
  return save()
elseif op == 'email' then
  -- ARGV[3]: the address
  if not r.waiting then return same end
  r.email = ARGV[3]
  return save()
elseif op == 'answered' then
  -- ARGV[3]: the operator message's seq, ARGV[4]: when its email is due ('' : the visitor is here)
  -- `changed`: what operators see changed; `dirty`: anything did (a message joining the
  -- pending email changes only its range).
  local changed = r.waiting
  local dirty = changed
  r.waiting = false
  if ARGV[4] ~= '' and r.email ~= '' then
    if tonumber(ARGV[3]) > tonumber(r.upto) then
      r.upto = ARGV[3]
      dirty = true
    end
    if r.due == '' then
      -- After an email given up, the next one carries what it failed to deliver too.
      if string.sub(r.state, 1, 17) ~= '{"state":"failed"' then r.from = ARGV[3] end
      r.due, r.attempts = ARGV[4], '0'
      r.state = '{"state":"scheduled","at":' .. ARGV[4] .. '}'
      changed = true
    end
  end
  if dirty or changed then save() end
  if not changed then return same end
  return view()
elseif op == 'claim' then
  -- ARGV[3]: now, ARGV[4]: the end of the lease, ARGV[5]: the claim's name
  if r.email == '' or r.due == '' or tonumber(r.due) > tonumber(ARGV[3]) then
    if r.due == '' then redis.call('ZREM', due_set, id) end
    return same
  end
  r.due, r.claim = ARGV[4], ARGV[5]
  save()
  return {'claimed', r.email, r.from, r.upto, tostring(tonumber(r.attempts) + 1),
    redis.call('HGET', meta, 'vid') or ''}
elseif op == 'sent' then
  -- ARGV[3]: the claim, ARGV[4]: the last seq sent, ARGV[5]: at
  if r.claim ~= ARGV[3] then return same end
  r.claim, r.attempts = '', '0'
  if tonumber(r.upto) > tonumber(ARGV[4]) then
    -- An operator wrote again while it was being sent: that goes next, now.
    r.from, r.due = tostring(tonumber(ARGV[4]) + 1), ARGV[5]
    r.state = '{"state":"scheduled","at":' .. ARGV[5] .. '}'
  else
    r.due = ''
    r.state = '{"state":"sent","at":' .. ARGV[5] .. '}'
  end
  return save()
elseif op == 'failed' then
  -- ARGV[3]: the claim, ARGV[4]: its attempt, ARGV[5]: the next try ('' : give up),
  -- ARGV[6]: the error as a JSON string
  if r.claim ~= ARGV[3] then return same end
  r.claim, r.attempts, r.due = '', ARGV[4], ARGV[5]
  if ARGV[5] ~= '' then
    r.state = '{"state":"retrying","attempts":' .. ARGV[4] .. ',"next_at":' .. ARGV[5] ..
      ',"error":' .. ARGV[6] .. '}'
  else
    r.state = '{"state":"failed","attempts":' .. ARGV[4] .. ',"error":' .. ARGV[6] .. '}'
  end
  return save()
end
return redis.error_reply('unknown follow-up step ' .. op)
