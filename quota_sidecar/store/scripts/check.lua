-- check.lua: CheckQuota for N subjects, atomically. Either every subject allows and each
-- consumes `requests` requests (1 for a CheckQuota; a gateway's hits may count more, or 0 to
-- only look), the estimated tokens (and, with reserve, holds the estimated cost), or
-- nothing is consumed anywhere.
--
-- KEYS: 11 per subject (see _lib.lua), then the shared alert stream when ARGV[10] == '1', then
--       the check's mark (on the first subject's slot) when a check id is given.
-- ARGV: now_ms, estimated cost nanos, estimated tokens, reserve ('1'/'0'), hold id,
--       lease ms, check id ('' = none), requests, N, use shared stream ('1'/'0'), then one per
--       subject, then optionally 'dry'.
-- The check's mark (a string key of its own, CHECK_MARK_TTL_MS): an admitted check leaves 1,
--   so a check whose reply was lost can be undone by refund.lua; an undo that comes first leaves
--   0, and the check, when it still arrives, consumes nothing and answers {'undone'}. One
--   SET NX at the start both tests for the undo and marks the check; a check that ends up not
--   consuming anything (stale, denied) deletes its mark again, inside the same atomic step.
-- Reply: {'undone'} (see above) | {'stale', {subject indexes}} when a config changed since the
--   caller planned, else
--   {'ok'|'deny', code, denied subject index (0 = none), denied limit, retry_after ms (-1 =
--    never; the latest over every denying limit of every subject), reset_at ms, shadow denied
--    (0/1), hold id, statuses, warnings, alerts}
--   statuses: flat {index, limit, limit value, used, held, reset_at ms} * n
--   warnings: flat {index, limit, percent, used, limit value} * n
--   alerts:   {{id, field, value, ...}, ...}
local HEAD = 10
local now, est, tokens = int(ARGV[1]), int(ARGV[2]), int(ARGV[3])
local reserve, hold_id, lease = ARGV[4] == '1', ARGV[5], int(ARGV[6])
local check_id, requests, n = ARGV[7], int(ARGV[8]), int(ARGV[9])
local extra = n * KEYS_PER_SUBJECT
local global_stream = ''
if ARGV[10] == '1' then
  global_stream = KEYS[extra + 1]
  extra = extra + 1
end
local mark = check_id ~= '' and KEYS[extra + 1] or nil
-- Every argument is parsed before the mark is set: a malformed one raises with nothing
-- written (Redis keeps a script's writes before an error), never a mark saying "admitted".
local subjects, stale_list = {}, {}
for i = 1, n do subjects[i] = subject(i, HEAD) end
-- Integers, so Redis keeps the value as one of its shared objects: only the key costs memory.
if mark and not redis.call('SET', mark, 1, 'NX', 'PX', CHECK_MARK_TTL_MS) then
  return { 'undone' }
end
-- An optional last argument 'dry': evaluate only (consume, hold and alert nothing), for the
-- retry_after of slot groups after the one that denied (engine/cluster.py).
local dry = ARGV[HEAD + n + 1] == 'dry'

for i = 1, n do
  local s = subjects[i]
  -- The rings of the rate limits the subject has (an override only raises a limit it has).
  s.specs = {}
  for _, spec in ipairs(RING_SPECS) do
    if s.limits[spec.name] then s.specs[#s.specs + 1] = spec end
  end
  if read_subject(s, s.specs, now) then stale_list[#stale_list + 1] = i end
end
if #stale_list > 0 then
  if mark then redis.call('DEL', mark) end
  return { 'stale', stale_list }
end

-- A concurrency slot frees when any hold ends, usually sooner than a budget renews: it binds
-- less than a budget and more than a rate window.
local RANK = { BLOCKED = 5, PER_REQUEST_LIMIT_EXCEEDED = 4, BUDGET_EXHAUSTED = 3,
  CONCURRENCY_LIMITED = 2, RATE_LIMITED = 1 }
local denial, shadow_denial, alerts = nil, nil, {}
-- When the same check could pass: the latest retry instant over EVERY denying limit of every
-- subject (-1 = some denying limit never passes by waiting); one for the denying subjects,
-- one for the shadow ones.
local retry_at, shadow_retry_at = nil, nil

-- Is instant b later than instant a (-1 = never, later than any)?
local function is_later(a, b)
  return a ~= -1 and (b == -1 or b > a)
end

local function latest(a, b)
  if a == nil or is_later(a, b) then return b end
  return a
end

-- Is denial b more binding than a: a stronger code, or the same code with a later retry.
local function more_binding(a, b)
  if not a then return true end
  if RANK[b.code] ~= RANK[a.code] then return RANK[b.code] > RANK[a.code] end
  return is_later(a.retry_at, b.retry_at)
end

local function consider(s, d)
  d.index = s.index
  if s.shadow then
    if more_binding(shadow_denial, d) then shadow_denial = d end
    shadow_retry_at = latest(shadow_retry_at, d.retry_latest)
  else
    if more_binding(denial, d) then denial = d end
    retry_at = latest(retry_at, d.retry_latest)
  end
end

-- Every denying limit of one subject (block, per-request, budgets, rate windows); returns the
-- most binding one, with `retry_latest` the latest retry instant over all of them.
local function evaluate(s)
  local found = {}
  if s.block then
    found[#found + 1] = { code = 'BLOCKED', limit = '', retry_at = s.block, reset_at = s.block }
  end
  if s.bypass then -- a bypass skips every limit; only a block still denies
    if found[1] then found[1].retry_latest = s.block end
    return found[1]
  end
  local cpr = s.limits.cost_per_request
  if cpr and est > cpr then
    -- Alerted once per subject and quota day, like every other alert (not while blocked).
    if not s.block and not dry
      and redis.call('HSETNX', s.day, 'a:cost_per_request:100', now) == 1 then
      expire_period(s.day, now, s.day_end)
      local message = string.format('%s:%s asked for %s, above its per-request limit of %s',
        s.scope, s.identifier, dollars(est), dollars(cpr))
      alerts[#alerts + 1] = emit_alert(s, global_stream, now, 'PER_REQUEST_LIMIT_EXCEEDED',
        'CRITICAL', 'cost_per_request', 100, est, cpr, 'day:' .. s.day_id, message)
    end
    found[#found + 1] = { code = 'PER_REQUEST_LIMIT_EXCEEDED', limit = 'cost_per_request',
      retry_at = -1, reset_at = 0 }
  end
  -- A lifetime budget never renews: waiting never helps (-1), only a bonus does.
  local budgets = {
    { 'cost_daily', s.cost_day, s.day_end }, { 'cost_monthly', s.cost_month, s.month_end },
    { 'cost_weekly', s.cost_week, s.week_end }, { 'cost_lifetime', s.cost_life, -1 },
  }
  for _, b in ipairs(budgets) do
    local limit = s.limits[b[1]]
    if limit and b[2] + s.held + est > limit then
      found[#found + 1] = { code = 'BUDGET_EXHAUSTED', limit = b[1], retry_at = b[3],
        reset_at = math.max(b[3], 0) }
    end
  end
  -- Only a reserving check takes a slot (its hold is the slot), so only it can be refused
  -- one. When a slot frees is unknown (a settle may come any time); the oldest hold's lease
  -- end is the latest it can be.
  -- Lifetime request and token caps (a run's) never renew either.
  local lifetime = { { 'requests_lifetime', s.life_requests, math.max(requests, 1) },
    { 'tokens_lifetime', s.life_tokens, math.max(tokens, 1) } }
  for _, c in ipairs(lifetime) do
    local limit = s.limits[c[1]]
    if limit and c[2] + c[3] > limit then
      found[#found + 1] = { code = 'BUDGET_EXHAUSTED', limit = c[1], retry_at = -1, reset_at = 0 }
    end
  end
  local mc = s.limits.max_concurrent
  if reserve and mc and s.open + 1 > mc then
    local free = s.oldest_expiry or -1
    found[#found + 1] = { code = 'CONCURRENCY_LIMITED', limit = 'max_concurrent',
      retry_at = free, reset_at = math.max(free, 0) }
  end
  for _, spec in ipairs(LIMITS) do
    local r = s.rings[spec.name]
    if r then
      local need = tokens
      if spec.ring:sub(1, 1) == 'r' then need = requests end
      -- 0 (a look without a charge) still asks for room for one more.
      local target = s.limits[spec.name] - math.max(need, 1)
      if r.sum > target then
        local free = ring_free_at(r, target) or -1
        found[#found + 1] = { code = 'RATE_LIMITED', limit = spec.name, retry_at = free,
          reset_at = free }
      end
    end
  end
  local chosen, retry = nil, nil
  for _, d in ipairs(found) do
    if more_binding(chosen, d) then chosen = d end
    retry = latest(retry, d.retry_at)
  end
  if chosen then chosen.retry_latest = retry end
  return chosen
end

-- The open lease slices of the subject (engine/leases/, lease.lua): counted in its request
-- rings but not known to be used, so a day threshold is never claimed on them. Read only once
-- the count reaches the lowest threshold (a claim may be due); the registry is the subject's
-- `ls` key, on its slot (the rings key with another suffix).
local function leased_open(s, now, count)
  local lowest = s.thresholds[1] or 100
  for _, t in ipairs(s.thresholds) do lowest = math.min(lowest, t) end
  if not reaches(count, s.limits.requests_per_day, lowest) then return 0 end
  local sum = 0
  for _, v in ipairs(redis.call('HVALS', string.sub(s.rw, 1, -3) .. 'ls')) do
    local amount, expiry = string.match(v, '^(%d+)|(%d+)$')
    if expiry and int(expiry) > now then sum = sum + int(amount) end
  end
  return sum
end

for _, s in ipairs(subjects) do
  apply_overrides(s, now)
  -- What is held counts only against a budget (and a reserving check takes a hold): without
  -- either, the holds hash need not be read.
  local budgeted = s.limits.cost_daily or s.limits.cost_monthly or s.limits.cost_weekly
    or s.limits.cost_lifetime
  s.held = (budgeted or reserve) and held(s, now, reserve) or 0
  if s.limits.max_concurrent then
    -- Open holds = unexpired members of the expiry index (held() may have skipped removing
    -- expired ones when nothing is reserved); the first is the one whose lease ends first.
    s.open = redis.call('ZCOUNT', s.hexp, '(' .. itoa(now), '+inf')
    local first = redis.call('ZRANGEBYSCORE', s.hexp, '(' .. itoa(now), '+inf', 'WITHSCORES',
      'LIMIT', 0, 1)
    if first[2] then s.oldest_expiry = int(first[2]) end
  end
  -- Each period's spend is read only when it is limited (it is reported only then, too); the
  -- lifetime hash exists only for subjects with a lifetime limit.
  s.cost_day = s.limits.cost_daily and int(redis.call('HGET', s.day, 'c')) or 0
  s.cost_month = s.limits.cost_monthly and int(redis.call('HGET', s.month, 'c')) or 0
  s.cost_week = s.limits.cost_weekly and int(redis.call('HGET', s.week, 'c')) or 0
  s.cost_life = s.limits.cost_lifetime and int(redis.call('HGET', s.life, 'c')) or 0
  -- A subject that ends (a run) counts its lifetime requests and tokens whether or not it caps
  -- them, for its usage; any other subject only when capped (its lifetime hash never expires).
  s.counts_life = s.expire_at or s.limits.requests_lifetime or s.limits.tokens_lifetime
  if s.counts_life then
    local life = redis.call('HMGET', s.life, 'r', 't')
    s.life_requests, s.life_tokens = int(life[1]), int(life[2])
  end
  local d = evaluate(s)
  if d then consider(s, d) end
end

if mark and (denial or dry) then redis.call('DEL', mark) end -- it consumed nothing
if not denial and not dry then
  for _, s in ipairs(subjects) do
    local charged = {} -- the token rings this check charges, kept in the hold for its settle
    for name, r in pairs(s.rings) do
      local amount = tokens
      if r.ring:sub(1, 1) == 'r' then amount = requests end
      if amount > 0 then ring_add(s, r, amount) end
      if amount > 0 and r.ring:sub(1, 1) == 't' then charged[#charged + 1] = r.ring end
    end
    flush_rings(s, rings_ttl(s))
    -- Never HINCRBY 0: it would create a period hash without a TTL. A count equal to this
    -- check's is a hash this check created (or one that held no request): give it its TTL.
    -- Only the day counts requests (GetUsage's requests_today); no one reads a month's count.
    if requests > 0 and redis.call('HINCRBY', s.day, 'r', requests) == requests then
      expire_period(s.day, now, s.day_end)
    end
    if s.counts_life then
      if requests > 0 then s.life_requests = redis.call('HINCRBY', s.life, 'r', requests) end
      if tokens > 0 then
        s.life_tokens = redis.call('HINCRBY', s.life, 't', tokens)
        charged[#charged + 1] = 'tl' -- the lifetime tokens, corrected like a ring at the settle
      end
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
      if s.open then
        s.open = s.open + 1
        if not s.oldest_expiry or expiry < s.oldest_expiry then s.oldest_expiry = expiry end
      end
    end
    local period = 'day:' .. s.day_id
    for _, name in ipairs({ 'requests_per_day', 'tokens_per_day' }) do
      local r = s.rings[name]
      if r then
        local used = r.sum
        if name == 'requests_per_day' then used = used - leased_open(s, now, used) end
        claim_thresholds(s, global_stream, now, s.day, period, name, used, s.limits[name], alerts)
      end
    end
  end
end

if not denial and not dry then
  for i, s in ipairs(subjects) do
    -- The check's mark lives on the first subject's slot.
    expire_with_subject(s, now, i == 1 and mark and { mark } or nil)
  end
end

local statuses, warnings = {}, {}
local BUDGETS = { cost_daily = true, cost_monthly = true, cost_weekly = true, cost_lifetime = true,
  requests_per_day = true, tokens_per_day = true }
local function status(s, name, used, held_amount, reset_at)
  local limit = s.limits[name]
  if not limit then return end
  local n = #statuses -- appended in place: a table per status cost more than the status
  statuses[n + 1], statuses[n + 2], statuses[n + 3] = s.index, name, limit
  statuses[n + 4], statuses[n + 5], statuses[n + 6] = used, held_amount, reset_at
  if BUDGETS[name] then
    local level = warning_level(s, used + held_amount, limit)
    if level then
      n = #warnings
      warnings[n + 1], warnings[n + 2], warnings[n + 3] = s.index, name, level
      warnings[n + 4], warnings[n + 5] = used + held_amount, limit
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
  status(s, 'cost_weekly', s.cost_week, s.held, s.week_end)
  status(s, 'cost_lifetime', s.cost_life, s.held, 0)
  if s.open then status(s, 'max_concurrent', s.open, 0, s.oldest_expiry or 0) end
  if s.counts_life then
    status(s, 'requests_lifetime', s.life_requests, 0, 0)
    status(s, 'tokens_lifetime', s.life_tokens, 0, 0)
  end
end

local verdict, chosen, shadow = 'ok', denial, 0
if denial then verdict = 'deny' elseif shadow_denial then chosen, shadow = shadow_denial, 1 end
local held_id = ''
if not denial and reserve and not dry then held_id = hold_id end
if not chosen then
  return { verdict, '', 0, '', 0, 0, shadow, held_id, statuses, warnings, alerts }
end
local retry = shadow_retry_at
if denial then retry = retry_at end
local retry_after = -1
if retry ~= -1 then retry_after = math.max(0, retry - now) end
return { verdict, chosen.code, chosen.index, chosen.limit, retry_after, chosen.reset_at, shadow,
  held_id, statuses, warnings, alerts }
