-- usage.lua: GetUsage for one subject. Returns expired holds to the budget on the way.
--
-- KEYS: the subject's KEYS_PER_SUBJECT keys, then its lease registry (engine/leases/).
-- ARGV: now_ms, then the subject's one value.
-- Reply: {'stale'} | {'ok', day fields (flat HGETALL), month fields, held nanos,
--         rings: flat {limit, sum, reset_at ms} for the five rate limits,
--         limits in force: flat {limit, value},
--         {open holds, the first lease end ms (0 = none)}, week fields, lifetime fields,
--         open lease slices (counted in the request windows and the day's requests, not yet
--         known to be used)}
local HEAD = 1
local now = int(ARGV[1])
local s = subject(1, HEAD)
if stale(s) then return { 'stale' } end
apply_overrides(s, now)
local held_now = held(s, now, true)
local rings = {}
read_rings(s, RING_SPECS, now)
for _, spec in ipairs(RING_SPECS) do
  local r = s.rings[spec.name]
  for _, v in ipairs({ spec.name, r.sum, ring_reset_at(r) }) do rings[#rings + 1] = v end
end
local limits = {}
for _, spec in ipairs(LIMITS) do
  if s.limits[spec.name] then
    limits[#limits + 1] = spec.name
    limits[#limits + 1] = s.limits[spec.name]
  end
end
-- held() above removed the expired holds: what is left in the index is open.
local first = redis.call('ZRANGE', s.hexp, 0, 0, 'WITHSCORES')
local slots = { redis.call('ZCARD', s.hexp), int(first[2]) }
local leased = 0
for _, v in ipairs(redis.call('HVALS', KEYS[KEYS_PER_SUBJECT + 1])) do
  local amount, expiry = string.match(v, '^(%d+)|(%d+)$')
  if expiry and int(expiry) > now then leased = leased + int(amount) end
end
return { 'ok', redis.call('HGETALL', s.day), redis.call('HGETALL', s.month), held_now, rings,
  limits, slots, redis.call('HGETALL', s.week), redis.call('HGETALL', s.life), leased }
