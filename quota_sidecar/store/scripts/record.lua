-- record.lua: RecordUsage for N subjects, atomically: dedupe by idempotency key, settle (or
-- release) the hold, add the actual cost and tokens to the day and month with the breakdown by
-- provider, tool and model, and claim the thresholds the new totals reach (each alert once per period).
--
-- KEYS: 11 per subject, then the idempotency key, then the shared alert stream when ARGV[13]=='1'.
-- ARGV: now_ms, cost nanos, input tokens, output tokens, payload fingerprint ('' = no dedupe),
--       dedupe ttl ms, hold id ('' = none), release ('1'/'0'), provider, tool,
--       model ("provider/model" or ''), N,
--       use shared stream ('1'/'0'), M, then one per subject. The last M subjects are the
--       reservation's subjects the record does not name: their holds are released, nothing
--       is charged to them and they have no totals (settling a reservation settles all of it).
--       After the subjects (optional; absent = no history): the day rollups' retention ms,
--       the month rollups' retention ms, top spenders ('1'/'0'), then with top spenders one
--       calendar ("<reset_hour>@<zone>") per named subject. With history, KEYS end with two
--       keys per named subject (day and month rollup, engine/history.py), then with top
--       spenders three per named subject (day zset, month zset, the scope's calendar set).
-- Reply: {'stale', {indexes}} | {'conflict'} | {'closed', index of a run that is not open} |
--        {'ok'|'duplicate'|'released', settled holds, totals, alerts}
--   totals: flat {index, cost today, cost this month, requests today, tokens today} * (N - M)
local HEAD = 14
local now, cost = int(ARGV[1]), int(ARGV[2])
local tokens_in, tokens_out = int(ARGV[3]), int(ARGV[4])
local fingerprint, dedupe_ttl, hold_id = ARGV[5], int(ARGV[6]), ARGV[7]
local release, provider, tool = ARGV[8] == '1', ARGV[9], ARGV[10]
local model, n = ARGV[11], int(ARGV[12])
local idem_key = KEYS[n * KEYS_PER_SUBJECT + 1]
local global_stream = ''
if ARGV[13] == '1' then global_stream = KEYS[n * KEYS_PER_SUBJECT + 2] end
local named = n - int(ARGV[14])
local history_at = n * KEYS_PER_SUBJECT + 2
if global_stream ~= '' then history_at = history_at + 1 end
local history_day_ms = ARGV[HEAD + n + 1]
local history_month_ms = int(ARGV[HEAD + n + 2])
local with_top = ARGV[HEAD + n + 3] == '1'

local subjects, stale_list = {}, {}
for i = 1, n do
  subjects[i] = subject(i, HEAD)
  if stale(subjects[i]) then stale_list[#stale_list + 1] = i end
end

-- Counters as Redis holds them (exact int64 text), not as Lua doubles.
local function totals()
  local out = {}
  for i = 1, named do
    local s = subjects[i]
    local day = redis.call('HMGET', s.day, 'c', 'r', 'ti', 'to')
    local month = redis.call('HGET', s.month, 'c') or '0'
    local tokens = itoa(int(day[3]) + int(day[4]))
    for _, v in ipairs({ s.index, day[1] or '0', month, day[2] or '0', tokens }) do
      out[#out + 1] = v
    end
  end
  return out
end

if fingerprint ~= '' then
  local seen = redis.call('GET', idem_key)
  if seen then
    if seen ~= fingerprint then return { 'conflict' } end
    -- Rewritten as it is (value and TTL kept) so a duplicate writes too: a WAIT after it then
    -- confirms that the replicas hold the original record (store/replication.py).
    redis.call('SET', idem_key, seen, 'KEEPTTL')
    return { 'duplicate', 0, totals(), {} }
  end
end
if #stale_list > 0 then return { 'stale', stale_list } end
-- Runs: a record counts only on open runs (engine/runs.py). A named run that is not open
-- (never opened, or past its time to live) refuses the whole record before anything is written.
if not release then
  for i = 1, named do
    if subjects[i].scope == 'run' and redis.call('HEXISTS', subjects[i].cfg, 'x') == 0 then
      return { 'closed', i }
    end
  end
end

-- Add to a breakdown field, folding new names into "(other)" once the period hash is full,
-- so it cannot grow without bound however many distinct tools a caller invents.
local function add_breakdown(key, kind, name)
  if name == '' then return end
  if redis.call('HEXISTS', key, kind .. ':' .. name) == 0
    and redis.call('HLEN', key) >= BREAKDOWN_CAP then
    name = '(other)'
  end
  redis.call('HINCRBY', key, kind .. ':' .. name, cost)
  redis.call('HINCRBY', key, kind .. 'n:' .. name, 1)
end

-- The check charged the estimated tokens to the token rings the hold lists (a hold written
-- before the list existed: every token ring with a limit). Correct those rings to the actual
-- count: a larger actual is charged now; a smaller one is taken back from the bucket the
-- estimate went to, only if that ring is the one charged (not begun after the hold, as after a
-- usage reset) and never more than the bucket still holds.
local function correct_tokens(s, hold, estimated, placed, released)
  local actual = tokens_in + tokens_out
  if released then actual = 0 end
  local delta = actual - estimated
  if delta == 0 then return end
  local listed = string.match(hold, '^[^|]*|[^|]*|[^|]*|[^|]*|(.*)$')
  local charged = {}
  if listed then
    for ring in string.gmatch(listed, '%a+') do charged[ring] = true end
  end
  if charged.tl then -- the lifetime tokens (a run's): to the actual count, never below zero
    local now_tokens = int(redis.call('HGET', s.life, 't'))
    local change = math.max(delta, 0 - now_tokens)
    if change ~= 0 then redis.call('HINCRBY', s.life, 't', change) end
  end
  local specs = {}
  for _, spec in ipairs(RING_SPECS) do
    local listed_here = charged[spec.ring] or not listed
    if spec.ring:sub(1, 1) == 't' and s.limits[spec.name] and listed_here then
      specs[#specs + 1] = spec
    end
  end
  if #specs == 0 then return end
  read_rings(s, specs, now)
  for _, spec in ipairs(specs) do
    local r = s.rings[spec.name]
    if delta > 0 then
      ring_add(s, r, delta)
    elseif not r.began or r.began <= placed then -- no ring: ring_credit finds nothing to take
      ring_credit(s, r, 0 - delta, math.floor(placed / r.g))
    end
  end
  flush_rings(s, rings_ttl(s))
end

-- The history rollups of named subject i: what it spent by quota day (with the breakdown) and
-- by quota month, kept for the retention after the period ends; then its period totals in
-- the scope's top-spender sets (absolute values, so a set never drifts from the rollup).
local function roll_up(i, s)
  local day_key = KEYS[history_at + 2 * (i - 1)]
  local month_key = KEYS[history_at + 2 * (i - 1) + 1]
  local rollups = { { day_key, s.day_end, int(history_day_ms) },
    { month_key, s.month_end, history_month_ms } }
  local totals = {}
  for j, p in ipairs(rollups) do
    local key = p[1]
    -- 'r' counts records: its first increment created the hash, which then gets its TTL.
    if redis.call('HINCRBY', key, 'r', 1) == 1 then
      redis.call('PEXPIRE', key, math.max(p[2] - now, 0) + p[3])
    end
    -- The total as Redis holds it (exact int64 text), for the top-spender score.
    totals[j] = redis.call('HINCRBY', key, 'c', cost)
    if tokens_in > 0 then redis.call('HINCRBY', key, 'ti', tokens_in) end
    if tokens_out > 0 then redis.call('HINCRBY', key, 'to', tokens_out) end
    if j == 1 then
      add_breakdown(key, 'p', provider)
      add_breakdown(key, 't', tool)
      add_breakdown(key, 'm', model)
    end
  end
  if not with_top then return end
  local top_at = history_at + 2 * named + 3 * (i - 1)
  local sets = { { KEYS[top_at], s.day_end }, { KEYS[top_at + 1], s.month_end } }
  local joined_month = false
  for j, t in ipairs(sets) do
    -- ZADD returns 1 for a new member: the set's first member gets the TTL (its period's end).
    if redis.call('ZADD', t[1], itoa(totals[j]), s.identifier) == 1 then
      redis.call('PEXPIRE', t[1], math.max(t[2] - now, 0) + PERIOD_GRACE_MS)
      joined_month = j == 2
    end
  end
  -- The calendar set outlives every month set it names: renewed when a subject first enters
  -- a month's set (once per subject and month, not on every record).
  if joined_month then
    local calendars, keep = KEYS[top_at + 2], math.max(s.month_end - now, 0) + PERIOD_GRACE_MS
    redis.call('SADD', calendars, ARGV[HEAD + n + 3 + i])
    if redis.call('PTTL', calendars) < keep then redis.call('PEXPIRE', calendars, keep) end
  end
end

local settled, alerts = 0, {}
for _, s in ipairs(subjects) do
  local released = release or s.index > named
  apply_overrides(s, now)
  held(s, now, hold_id ~= '')
  local hold = hold_id ~= '' and redis.call('HGET', s.holds, hold_id)
  if hold then
    local held_cost, held_tokens, _, placed = string.match(hold, '^(%d+)|(%d+)|(%d+)|(%d+)')
    redis.call('HDEL', s.holds, hold_id)
    redis.call('ZREM', s.hexp, hold_id)
    redis.call('HINCRBY', s.holds, '_sum', 0 - int(held_cost)) -- never -0
    settled = settled + 1
    correct_tokens(s, hold, int(held_tokens), int(placed), released)
  end
  if not released then
    if history_day_ms then roll_up(s.index, s) end
    for _, period in ipairs({ { s.day, s.day_end }, { s.month, s.month_end } }) do
      local key = period[1]
      if redis.call('HINCRBY', key, 'c', cost) == cost then expire_period(key, now, period[2]) end
      if tokens_in > 0 then redis.call('HINCRBY', key, 'ti', tokens_in) end
      if tokens_out > 0 then redis.call('HINCRBY', key, 'to', tokens_out) end
      add_breakdown(key, 'p', provider)
      add_breakdown(key, 't', tool)
      add_breakdown(key, 'm', model)
    end
    -- The week is counted for every subject (its hash expires with the week, like a day's);
    -- lifetime spend only for a subject with a lifetime limit, since its hash never expires.
    local week_cost = redis.call('HINCRBY', s.week, 'c', cost)
    if week_cost == cost then expire_period(s.week, now, s.week_end) end
    claim_thresholds(s, global_stream, now, s.week, 'week:' .. s.week_id, 'cost_weekly',
      week_cost, s.limits.cost_weekly, alerts)
    if s.limits.cost_lifetime or s.expire_at then -- a run (it ends) keeps its lifetime spend
      local life_cost = redis.call('HINCRBY', s.life, 'c', cost)
      claim_thresholds(s, global_stream, now, s.life, 'lifetime', 'cost_lifetime', life_cost,
        s.limits.cost_lifetime, alerts)
    end
    local day_cost = int(redis.call('HGET', s.day, 'c'))
    local month_cost = int(redis.call('HGET', s.month, 'c'))
    claim_thresholds(s, global_stream, now, s.day, 'day:' .. s.day_id, 'cost_daily', day_cost,
      s.limits.cost_daily, alerts)
    claim_thresholds(s, global_stream, now, s.month, 'month:' .. s.month_id, 'cost_monthly',
      month_cost, s.limits.cost_monthly, alerts)
  end
end

if fingerprint ~= '' and not release then
  redis.call('SET', idem_key, fingerprint, 'PX', dedupe_ttl)
end
for _, s in ipairs(subjects) do
  -- The idempotency key ends with the subject it lives under (its key starts with its base).
  local base = s.cfg:sub(1, -4)
  local extra = {}
  if idem_key:sub(1, #base) == base then extra[#extra + 1] = idem_key end
  if history_day_ms and s.index <= named then
    extra[#extra + 1] = KEYS[history_at + 2 * (s.index - 1)]
    extra[#extra + 1] = KEYS[history_at + 2 * (s.index - 1) + 1]
  end
  expire_with_subject(s, now, extra)
end
if release then return { 'released', settled, totals(), alerts } end
return { 'ok', settled, totals(), alerts }
