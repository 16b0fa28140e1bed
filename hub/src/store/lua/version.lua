-- A new version `cv` of a conversation's slow-changing meta fields (common.lua): Redis's clock,
-- to the microsecond. Not a counter: after a failover that lost the last writes, a counter
-- would count the same numbers again over other values, and a node holding a lost version would
-- take the new fields for its own. Two scripts never run in the same microsecond on one server.
-- Prepended to common.lua, and to follow_up.lua, which changes `fu` without common.lua.
local function new_version()
  local t = redis.call('TIME')
  return t[1] .. '.' .. t[2]
end
