-- check.lua: CheckQuota for N subjects, atomically. Either every subject allows and each
-- consumes one request, the estimated tokens (and, with reserve, holds the estimated cost), or
-- nothing is consumed anywhere.
--
-- KEYS: 8 per subject (see _lib.lua), then the shared alert stream when ARGV[8] == '1'.
-- ARGV: now_ms, estimated cost nanos, estimated tokens, reserve ('1'/'0'), hold id,
--       lease ms, N, use shared stream ('1'/'0'), then one per subject.
-- Reply: {'stale', {subject indexes}} when a config changed since the caller planned, else
--   {'ok'|'deny', code, denied subject index (0 = none), denied limit, retry_after ms (-1 =
--    never), reset_at ms, shadow denied (0/1), hold id, statuses, warnings, alerts}
--   statuses: flat {index, limit, limit value, used, held, reset_at ms} * n
--   warnings: flat {index, limit, percent, used, limit value} * n
--   alerts:   {{id, field, value, ...}, ...}
local HEAD = 8
local now, est, tokens = int(ARGV[1]), int(ARGV[2]), int(ARGV[3])
local reserve, hold_id, lease, n = ARGV[4] == '1', ARGV[5], int(ARGV[6]), int(ARGV[7])
local global_stream = ''
if ARGV[8] == '1' then global_stream = KEYS[n * KEYS_PER_SUBJECT + 1] end

local subjects, stale_list = {}, {}
for i = 1, n do
  subjects[i] = subject(i, HEAD)
  if stale(subjects[i]) then stale_list[#stale_list + 1] = i end
end
if #stale_list > 0 then return { 'stale', stale_list } end

local RANK = { BLOCKED = 4, PER_REQUEST_LIMIT_EXCEEDED = 3, BUDGET_EXHAUSTED = 2, RATE_LIMITED = 1 }
local denial, shadow_denial, alerts = nil, nil, {}

local function consider(s, d)
  d.index = s.index
  if s.shadow then
    shadow_denial = shadow_denial or d
  elseif not denial or RANK[d.code] > RANK[denial.code] then
    denial = d
  end
end

-- The most binding denial of one subject: block, per-request, budgets, then rate windows.
local function evaluate(s)
  if s.block then
    return { code = 'BLOCKED', limit = '', retry_at = s.block, reset_at = s.block }
  end
  if s.bypass then return nil end
  local cpr = s.limits.cost_per_request
  if cpr and est > cpr then
    -- Alerted once per subject and quota day, like every other alert.
    if redis.call('HSETNX', s.day, 'a:cost_per_request:100', now) == 1 then
      expire_period(s.day, now, s.day_end)
      local message = string.format('%s:%s asked for %s, above its per-request limit of %s',
        s.scope, s.identifier, dollars(est), dollars(cpr))
      alerts[#alerts + 1] = emit_alert(s, global_stream, now, 'PER_REQUEST_LIMIT_EXCEEDED',
        'CRITICAL', 'cost_per_request', 100, est, cpr, 'day:' .. s.day_id, message)
    end
    return { code = 'PER_REQUEST_LIMIT_EXCEEDED', limit = 'cost_per_request', retry_at = -1, reset_at = 0 }
  end
  local budgets = {
    { 'cost_daily', s.cost_day, s.day_end }, { 'cost_monthly', s.cost_month, s.month_end },
  }
  for _, b in ipairs(budgets) do
    local limit = s.limits[b[1]]
    if limit and b[2] + s.held + est > limit then
      return { code = 'BUDGET_EXHAUSTED', limit = b[1], retry_at = b[3], reset_at = b[3] }
    end
  end
  local worst
  for _, spec in ipairs(LIMITS) do
    local r = s.rings[spec.name]
    if r then
      local need = tokens
      if spec.ring:sub(1, 1) == 'r' then need = 1 end
      local target = s.limits[spec.name] - math.max(need, 1)
      if r.sum > target then
        local free = ring_free_at(r, target) or -1
        if not worst or free == -1 or (worst.retry_at ~= -1 and free > worst.retry_at) then
          worst = { code = 'RATE_LIMITED', limit = spec.name, retry_at = free, reset_at = free }
        end
      end
    end
  end
  return worst
end

for _, s in ipairs(subjects) do
  apply_overrides(s, now)
  s.held = held(s, now, reserve)
  s.cost_day = int(redis.call('HGET', s.day, 'c'))
  s.cost_month = int(redis.call('HGET', s.month, 'c'))
  local specs = {}
  for _, spec in ipairs(RING_SPECS) do
    if s.limits[spec.name] then specs[#specs + 1] = spec end
  end
  read_rings(s, specs, now)
  local d = evaluate(s)
  if d then consider(s, d) end
end

if not denial then
  for _, s in ipairs(subjects) do
    local charged = {} -- the token rings this check charges, kept in the hold for its settle
    for name, r in pairs(s.rings) do
      local amount = tokens
      if r.ring:sub(1, 1) == 'r' then amount = 1 end
      if amount > 0 then ring_add(s, r, amount) end
      if amount > 0 and r.ring:sub(1, 1) == 't' then charged[#charged + 1] = r.ring end
    end
    flush_rings(s, rings_ttl(s))
    if redis.call('HINCRBY', s.day, 'r', 1) == 1 then expire_period(s.day, now, s.day_end) end
    if redis.call('HINCRBY', s.month, 'r', 1) == 1 then
      expire_period(s.month, now, s.month_end)
    end
    if reserve then
      local expiry = now + lease
      redis.call('HSET', s.holds, hold_id, itoa(est) .. '|' .. itoa(tokens) .. '|'
        .. itoa(expiry) .. '|' .. itoa(now) .. '|' .. table.concat(charged, ','))
      redis.call('HINCRBY', s.holds, '_sum', est)
      redis.call('ZADD', s.hexp, expiry, hold_id)
      for _, key in ipairs({ s.holds, s.hexp }) do
        if redis.call('PTTL', key) < lease + 60000 then redis.call('PEXPIRE', key, lease + 60000) end
      end
      s.held = s.held + est
    end
    local period = 'day:' .. s.day_id
    for _, name in ipairs({ 'requests_per_day', 'tokens_per_day' }) do
      local r = s.rings[name]
      if r then
        claim_thresholds(s, global_stream, now, s.day, period, name, r.sum, s.limits[name], alerts)
      end
    end
  end
end

local statuses, warnings = {}, {}
local BUDGETS = { cost_daily = true, cost_monthly = true, requests_per_day = true, tokens_per_day = true }
local function status(s, name, used, held_amount, reset_at)
  local limit = s.limits[name]
  if not limit then return end
  for _, v in ipairs({ s.index, name, limit, used, held_amount, reset_at }) do
    statuses[#statuses + 1] = v
  end
  if BUDGETS[name] then
    local level = warning_level(s, used + held_amount, limit)
    if level then
      for _, v in ipairs({ s.index, name, level, used + held_amount, limit }) do
        warnings[#warnings + 1] = v
      end
    end
  end
end
for _, s in ipairs(subjects) do
  for _, spec in ipairs(LIMITS) do
    local r = s.rings[spec.name]
    if r then status(s, spec.name, r.sum, 0, ring_reset_at(r)) end
  end
  status(s, 'cost_per_request', est, 0, 0)
  status(s, 'cost_daily', s.cost_day, s.held, s.day_end)
  status(s, 'cost_monthly', s.cost_month, s.held, s.month_end)
end

local verdict, chosen, shadow = 'ok', denial, 0
if denial then verdict = 'deny' elseif shadow_denial then chosen, shadow = shadow_denial, 1 end
local held_id = ''
if not denial and reserve then held_id = hold_id end
if not chosen then
  return { verdict, '', 0, '', 0, 0, shadow, held_id, statuses, warnings, alerts }
end
local retry_after = -1
if chosen.retry_at ~= -1 then retry_after = math.max(0, chosen.retry_at - now) end
return { verdict, chosen.code, chosen.index, chosen.limit, retry_after, chosen.reset_at, shadow,
  held_id, statuses, warnings, alerts }
