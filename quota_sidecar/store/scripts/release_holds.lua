-- release_holds.lua: give back the named holds of one subject (an ended run's, see
-- engine/run_control.py), as a settle with release would: each hold's cost leaves the held
-- sum and its lease index, and the tokens it estimated leave the lifetime count when it charged
-- them there ('tl'). Its rate windows keep the estimate (an over-count that the window forgets;
-- an ended run admits no more checks anyway). Holds already settled, released or expired are
-- skipped, so a release racing a settle counts once.
-- KEYS: the subject's holds hash, its hold expiry index, its lifetime hash.
-- ARGV: hold ids.
-- Reply: how many of them were open.
local released = 0
for _, id in ipairs(ARGV) do
  local hold = redis.call('HGET', KEYS[1], id)
  if hold then
    local cost, tokens, listed = string.match(hold, '^(%d+)|(%d+)|[^|]*|[^|]*|?(.*)$')
    redis.call('HINCRBY', KEYS[1], '_sum', 0 - int(cost)) -- never -0
    redis.call('HDEL', KEYS[1], id)
    if listed and string.find(',' .. listed .. ',', ',tl,', 1, true) and int(tokens) > 0 then
      local have = int(redis.call('HGET', KEYS[3], 't'))
      local take = math.min(have, int(tokens))
      if take > 0 then redis.call('HINCRBY', KEYS[3], 't', 0 - take) end
    end
    released = released + 1
  end
  redis.call('ZREM', KEYS[2], id)
end
return released
