-- record.lua: RecordUsage for N subjects, atomically: dedupe by idempotency key, settle (or
-- release) the hold, add the actual cost and tokens to the day and month with the breakdown by
-- provider, tool and model, and claim the thresholds the new totals reach (each alert once per period).
--
-- KEYS: 11 per subject, then the idempotency key's string as releases before the dedupe index
--       kept it (read only), then the dedupe index (its bucket hashes are named after it: see
--       "Dedupe" below), then the shared alert stream when ARGV[13]=='1'.
-- ARGV: now_ms, cost nanos, input tokens, output tokens, dedupe entry ('' = no dedupe; else
--       the payload fingerprint as 32 hex digits, then 14 bytes of the key's digest and 6 of
--       the payload's: engine/dedupe.py), dedupe window ms, hold id ('' = none),
--       release ('1'/'0'), provider, tool, model ("provider/model" or ''), N,
--       use shared stream ('1'/'0'), M, then one per subject. The last M subjects are the
--       reservation's subjects the record does not name: their holds are released, nothing
--       is charged to them and they have no totals (settling a reservation settles all of it).
--       After the subjects (optional; absent = no history): the day rollups' retention ms,
--       the month rollups' retention ms, top spenders ('1'/'0'), then with top spenders one
--       calendar ("<reset_hour>@<zone>") per named subject. With history, KEYS end with two
--       keys per named subject (day and month rollup, engine/history.py), then with top
--       spenders three per named subject (day zset, month zset, the scope's calendar set).
--       After the history part (optional; absent or '' = no sample): the cost sample's size
--       cap and its TTL ms, with its list as the last key: a record that counts ('ok') pushes
--       its cost onto that list (engine/samples.py), in the same atomic call.
-- Reply: {'stale', {indexes}} | {'conflict'} | {'closed', index of a run that is not open} |
--        {'ok'|'duplicate'|'released', settled holds, totals, alerts}
--   totals: flat {index, cost today, cost this month, requests today, tokens today} * (N - M)
local HEAD = 14
local now, cost = int(ARGV[1]), int(ARGV[2])
local tokens_in, tokens_out = int(ARGV[3]), int(ARGV[4])
local dedupe_entry, dedupe_window, hold_id = ARGV[5], int(ARGV[6]), ARGV[7]
local release, provider, tool = ARGV[8] == '1', ARGV[9], ARGV[10]
local model, n = ARGV[11], int(ARGV[12])
local legacy_key = KEYS[n * KEYS_PER_SUBJECT + 1]
local dedupe_index = KEYS[n * KEYS_PER_SUBJECT + 2]
local global_stream = ''
if ARGV[13] == '1' then global_stream = KEYS[n * KEYS_PER_SUBJECT + 3] end
local named = n - int(ARGV[14])
local history_at = n * KEYS_PER_SUBJECT + 3
if global_stream ~= '' then history_at = history_at + 1 end
local history_day_ms = ARGV[HEAD + n + 1]
local history_month_ms = int(ARGV[HEAD + n + 2])
local with_top = ARGV[HEAD + n + 3] == '1'
local sample_at = HEAD + n + 4
if with_top then sample_at = sample_at + named end
local sample_cap = ARGV[sample_at]
if sample_cap == '' then sample_cap = nil end

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

-- Dedupe. An idempotency key is kept as a 20-byte entry (its digest -> the payload's) in its
-- home subject's index (KEYS: "<base>:dd" for callers' keys, "<base>:dg" for generated ones):
-- one bucket per hour of first use, each a family of small hashes "<index>:<hour>:<shard>"
-- that split one at a time as the hour fills (linear hashing), so every hash stays small
-- enough for Redis's compact encoding (a listpack: about 24 bytes an entry; a full hash table
-- costs 60-80). The index hash holds each hour's "level split count". A bucket is looked up
-- while its hour can hold a use within the window (and the clock skew) and expires when it
-- no longer can: a key counts once within the window, and is remembered at most an hour (and
-- the skew) longer.
local DEDUPE_BUCKET_MS = 3600000
-- Replicas' clocks differ a little: a retry through a replica up to this much behind (or
-- ahead) still finds a key another one kept in the next (or last) hour.
local DEDUPE_CLOCK_SKEW_MS = 60000
local DEDUPE_SHARD_LOAD = 40 -- entries per shard on average before one more shard is split off
local dedupe_written = {}
local dedupe_field, dedupe_value, dedupe_hex = '', '', ''
if dedupe_entry ~= '' then
  dedupe_hex = dedupe_entry:sub(1, 32)
  dedupe_field, dedupe_value = dedupe_entry:sub(33, 46), dedupe_entry:sub(47, 52)
end

-- Which shard of an hour holds a digest: its first four bytes, by the hour's split state.
local function dedupe_shard(field, level, split)
  local b1, b2, b3, b4 = string.byte(field, 1, 4)
  local h = ((b1 * 256 + b2) * 256 + b3) * 256 + b4
  local shard = h % (2 ^ level)
  if shard < split then shard = h % (2 ^ (level + 1)) end
  return shard
end

local function dedupe_state(text)
  if not text then return 0, 0, 0 end
  local level, split, count = string.match(text, '^(%d+) (%d+) (%d+)$')
  return int(level), int(split), int(count)
end

local function dedupe_shard_key(hour, shard)
  return dedupe_index .. ':' .. itoa(hour) .. ':' .. itoa(shard)
end

local function dedupe_first_hour()
  return math.floor((now - dedupe_window - DEDUPE_CLOCK_SKEW_MS) / DEDUPE_BUCKET_MS)
end

-- The buckets of the window, newest first (a retry most often follows soon): the current
-- hour's first.
local function dedupe_hours()
  local current = math.floor(now / DEDUPE_BUCKET_MS)
  local hours, fields = { current }, { itoa(current) }
  if math.floor((now + DEDUPE_CLOCK_SKEW_MS) / DEDUPE_BUCKET_MS) > current then
    hours[2], fields[2] = current + 1, itoa(current + 1)
  end
  for hour = current - 1, dedupe_first_hour(), -1 do
    hours[#hours + 1] = hour
    fields[#fields + 1] = itoa(hour)
  end
  return hours, redis.call('HMGET', dedupe_index, unpack(fields))
end

-- The entry of this key within the window: its shard key and stored value, or nil.
local function dedupe_find(hours, states)
  for j, hour in ipairs(hours) do
    if states[j] then
      local level, split = dedupe_state(states[j])
      local key = dedupe_shard_key(hour, dedupe_shard(dedupe_field, level, split))
      local seen = redis.call('HGET', key, dedupe_field)
      if seen then return key, seen end
    end
  end
  return nil
end

-- The bucket's keys outlive the last use they can hold by the window (relative to the
-- engine's clock, as every period's TTL is).
local function dedupe_ttl(hour)
  return math.max((hour + 1) * DEDUPE_BUCKET_MS + dedupe_window + DEDUPE_CLOCK_SKEW_MS - now, 1)
end

-- Split the hour's next shard in two: the entries whose next hash bit is set move to the new one.
local function dedupe_split(hour, level, split)
  local from = dedupe_shard_key(hour, split)
  local to = dedupe_shard_key(hour, split + 2 ^ level)
  local flat = redis.call('HGETALL', from)
  local moved, gone = {}, {}
  for j = 1, #flat, 2 do
    if dedupe_shard(flat[j], level + 1, 0) ~= split then
      moved[#moved + 1], moved[#moved + 2] = flat[j], flat[j + 1]
      gone[#gone + 1] = flat[j]
    end
  end
  if #gone > 0 then
    redis.call('HSET', to, unpack(moved))
    redis.call('HDEL', from, unpack(gone))
    redis.call('PEXPIRE', to, dedupe_ttl(hour))
    dedupe_written[#dedupe_written + 1] = to
  end
  split = split + 1
  if split == 2 ^ level then return level + 1, 0 end
  return level, split
end

-- Keep this key's entry in the current hour's bucket.
local function dedupe_keep(hour, state)
  local level, split, count = dedupe_state(state)
  local key = dedupe_shard_key(hour, dedupe_shard(dedupe_field, level, split))
  redis.call('HSET', key, dedupe_field, dedupe_value)
  if redis.call('HLEN', key) == 1 then redis.call('PEXPIRE', key, dedupe_ttl(hour)) end
  dedupe_written[#dedupe_written + 1] = key
  count = count + 1
  if count > DEDUPE_SHARD_LOAD * (2 ^ level + split) then
    level, split = dedupe_split(hour, level, split)
  end
  redis.call('HSET', dedupe_index, itoa(hour), itoa(level) .. ' ' .. itoa(split) .. ' ' .. itoa(count))
  if not state then
    -- A new hour: the index forgets the hours no lookup reaches any more, and lasts as long
    -- as this hour's bucket.
    local oldest = dedupe_first_hour()
    local old = {}
    for _, field in ipairs(redis.call('HKEYS', dedupe_index)) do
      if int(field) < oldest then old[#old + 1] = field end
    end
    if #old > 0 then redis.call('HDEL', dedupe_index, unpack(old)) end
    redis.call('PEXPIRE', dedupe_index, dedupe_ttl(hour))
  end
  dedupe_written[#dedupe_written + 1] = dedupe_index
end

local dedupe_hour_list, dedupe_states = {}, {}
if dedupe_entry ~= '' then
  -- A key first used before the buckets existed (a spool replayed across the upgrade) is
  -- still its own: the old per-key string, until its 24 hours run out.
  local legacy = redis.call('GET', legacy_key)
  if legacy then
    if legacy ~= dedupe_hex then return { 'conflict' } end
    -- Rewritten as it is (value and TTL kept) so a duplicate writes too: a WAIT after it then
    -- confirms that the replicas hold the original record (store/replication.py).
    redis.call('SET', legacy_key, legacy, 'KEEPTTL')
    return { 'duplicate', 0, totals(), {} }
  end
  dedupe_hour_list, dedupe_states = dedupe_hours()
  local key, seen = dedupe_find(dedupe_hour_list, dedupe_states)
  if key then
    if seen ~= dedupe_value then return { 'conflict' } end
    redis.call('HSET', key, dedupe_field, seen) -- rewritten for the WAIT, as above
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

if dedupe_entry ~= '' and not release then
  dedupe_keep(dedupe_hour_list[1], dedupe_states[1])
end
for _, s in ipairs(subjects) do
  -- The dedupe keys end with the subject they live under (their names start with its base).
  local base = s.cfg:sub(1, -4)
  local extra = {}
  if dedupe_index:sub(1, #base) == base then
    for _, key in ipairs(dedupe_written) do extra[#extra + 1] = key end
  end
  if history_day_ms and s.index <= named then
    extra[#extra + 1] = KEYS[history_at + 2 * (s.index - 1)]
    extra[#extra + 1] = KEYS[history_at + 2 * (s.index - 1) + 1]
  end
  expire_with_subject(s, now, extra)
end
if release then return { 'released', settled, totals(), alerts } end
if sample_cap then
  -- One more actual cost for history estimates: newest first, at most the cap, the list kept
  -- its TTL after its last sample. Only here: a record that counts (not a duplicate, not a
  -- release, nothing refused) is sampled, exactly once as it is counted once. pcall: the
  -- sample is advice and the record the truth, so a sample that cannot be kept (a key of
  -- another type) never fails the record (nor would an error undo the writes above).
  local list = KEYS[#KEYS]
  local pushed = redis.pcall('LPUSH', list, ARGV[2]) -- the cost as the caller sent it
  if type(pushed) == 'number' then
    if pushed > int(sample_cap) then redis.call('LTRIM', list, 0, int(sample_cap) - 1) end
    redis.call('PEXPIRE', list, int(ARGV[sample_at + 1]))
  end
end
return { 'ok', settled, totals(), alerts }
