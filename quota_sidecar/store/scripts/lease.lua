-- lease.lua: exact local leases (engine/leases/). For each of N subjects whose only limits are
-- request windows, in one atomic step: give back what the holder's previous slice left unused,
-- then take a new slice of the window's room. A slice counts in every request ring's current
-- bucket (and in the day's request count) at once, as if that many checks had been admitted
-- now, so the sliding-window guarantee holds whoever admits from it, and when: the holder may
-- admit from it only until the current bucket of its shortest window ends ("until").
--
-- KEYS: 11 per subject (see _lib.lua), then one lease registry per subject (a hash on the
--       subject's slot: holder -> "slice|until": the open slices, for their sum and usage, and
--       the holders seen in the last minute, for the slice size),
--       then the shared alert stream.
-- ARGV: now_ms, holder id, N, then one subject argument each (as check.lua), then per subject
--       3 values: give-back amount, the give-back slice's take time ms (its bucket in every
--       ring), the give-back slice's day id; then per subject: wanted slice (0 = give back
--       only), need (room the asking check needs: a smaller room denies), k (a slice is at most
--       room / (k * holders)).
-- Reply: {'stale', {subject indexes}} when a config changed since the caller planned, else
--   one entry per subject:
--   {'ok', slice, until ms, statuses} | {'deny', limit, retry_at ms (-1 never), until ms,
--    statuses} | {'no'} (not leasable now: an override may be in force, or a limit that is
--    not a request window) | {'back'} (given back only).
--   statuses: flat {limit, limit value, used (unused open slices not counted), held (open
--   slices), reset_at ms} per request window.
local HEAD = 3
local now, holder, n = int(ARGV[1]), ARGV[2], int(ARGV[3])
local REQUEST_RINGS = { requests_per_minute = true, requests_per_hour = true,
  requests_per_day = true }

-- Only request windows, and no override in force (a block or bypass, or a raised limit: the
-- limits after apply_overrides() differ from `before`); shadow quotas and runs never lease.
local function leasable(s, before)
  if s.block or s.bypass or s.shadow or s.expire_at or s.scope == 'run' then return false end
  for name, value in pairs(s.limits) do
    if not REQUEST_RINGS[name] or before[name] ~= value then return false end
  end
  return next(s.limits) ~= nil
end

-- A holder whose slice ended is still counted among the holders for a minute, so a replica
-- that renews its slices now and then is not forgotten between them (slices stay small enough
-- for every replica that takes them).
local SEEN_MS = 60000

-- The open slices of other holders: their sum, and how many other holders were seen lately
-- (entries older than SEEN_MS are dropped).
local function open_slices(reg)
  local raw = redis.call('HGETALL', reg)
  local sum, count = 0, 0
  for j = 1, #raw, 2 do
    local amount, expiry = string.match(raw[j + 1], '^(%d+)|(%d+)$')
    if not expiry or int(expiry) <= now - SEEN_MS then
      redis.call('HDEL', reg, raw[j])
    elseif raw[j] ~= holder then
      count = count + 1
      if int(expiry) > now then sum = sum + int(amount) end
    end
  end
  return sum, count
end

local subjects, stale_list = {}, {}
for i = 1, n do
  local s = subject(i, HEAD)
  s.reg = KEYS[n * KEYS_PER_SUBJECT + i]
  s.specs = {}
  for _, spec in ipairs(RING_SPECS) do
    if s.limits[spec.name] then s.specs[#s.specs + 1] = spec end
  end
  if read_subject(s, s.specs, now) then
    -- A give-back alone goes through the keys and rings its slice was taken with, whatever
    -- the config is now; taking a slice needs the config the caller planned with.
    if int(ARGV[HEAD + n + n * 3 + (i - 1) * 3 + 1]) > 0 then
      stale_list[#stale_list + 1] = i
    else
      s.stale = true -- its limits are the old config's: it claims no threshold
      read_rings(s, s.specs, now)
    end
  end
  subjects[i] = s
end
if #stale_list > 0 then return { 'stale', stale_list } end

local function statuses_of(s, others, mine)
  local out = {}
  for _, spec in ipairs(RING_SPECS) do
    local r = s.rings[spec.name]
    if r then
      local open = others + mine
      out[#out + 1] = spec.name
      out[#out + 1] = s.limits[spec.name]
      out[#out + 1] = math.max(r.sum - open, 0)
      out[#out + 1] = open
      out[#out + 1] = ring_reset_at(r)
    end
  end
  return out
end

local replies = {}
for i, s in ipairs(subjects) do
  local base = HEAD + n + (i - 1) * 3
  local back, back_at, back_day = int(ARGV[base + 1]), int(ARGV[base + 2]), ARGV[base + 3]
  local extra = HEAD + n + n * 3 + (i - 1) * 3
  local wanted, need, k = int(ARGV[extra + 1]), int(ARGV[extra + 2]), int(ARGV[extra + 3])
  -- The unused rest of the previous slice leaves the bucket it was counted in (a ring that has
  -- rolled past it gives back nothing: that bucket is out of the window already).
  if back > 0 then
    for _, r in pairs(s.rings) do
      if r.ring:sub(1, 1) == 'r' then ring_credit(s, r, back, math.floor(back_at / r.g)) end
    end
    if back_day == s.day_id and int(redis.call('HGET', s.day, 'r')) >= back then
      redis.call('HINCRBY', s.day, 'r', 0 - back)
    end
  end
  redis.call('HSET', s.reg, holder, '0|' .. itoa(now)) -- its slice ended; seen now
  local before = {}
  for name, value in pairs(s.limits) do before[name] = value end
  apply_overrides(s, now)
  local others, holders = open_slices(s.reg)
  if wanted <= 0 then
    replies[i] = { 'back' }
  elseif not leasable(s, before) then
    replies[i] = { 'no' }
  else
    local till = s.day_end
    local room, denied, retry = nil, nil, nil
    for _, spec in ipairs(s.specs) do
      local r = s.rings[spec.name]
      till = math.min(till, (r.cur + 1) * r.g)
      local left = s.limits[spec.name] - r.sum
      if room == nil or left < room then room = left end
      if left < need then
        local free = ring_free_at(r, s.limits[spec.name] - need) or -1
        if not denied or free == -1 or (retry ~= -1 and free > retry) then retry = free end
        denied = denied or spec.name
      end
    end
    if denied then
      replies[i] = { 'deny', denied, retry, till, statuses_of(s, others, 0) }
    else
      -- Near the limit a slice shrinks with the room, so what other holders keep unused (an
      -- under-admission until they give it back) shrinks with it: room / (k * holders) each.
      local slice = math.min(wanted, math.floor(room / (k * (holders + 1))))
      slice = math.max(slice, need)
      for _, r in pairs(s.rings) do ring_add(s, r, slice) end -- request rings only (leasable)
      if redis.call('HINCRBY', s.day, 'r', slice) == slice then
        expire_period(s.day, now, s.day_end)
      end
      redis.call('HSET', s.reg, holder, itoa(slice) .. '|' .. itoa(till))
      replies[i] = { 'ok', slice, till, statuses_of(s, others, slice) }
    end
  end
  flush_rings(s, rings_ttl(s))
  redis.call('PEXPIRE', s.reg, WINDOW_MS.d / SUB_BUCKETS + SEEN_MS)
  -- A day threshold is claimed on what closed slices used, never on open slices' room: the
  -- ring's count less every open slice (the holders tell what they used by giving back).
  local rd = s.rings.requests_per_day
  if rd and not s.stale then
    local mine = replies[i][1] == 'ok' and replies[i][2] or 0
    local alerts = {} -- in the streams already; the reply need not carry them
    claim_thresholds(s, KEYS[n * KEYS_PER_SUBJECT + n + 1], now, s.day, 'day:' .. s.day_id,
      'requests_per_day', rd.sum - others - mine, s.limits.requests_per_day, alerts)
  end
end
return replies
