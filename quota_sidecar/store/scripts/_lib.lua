-- Shared helpers, prepended to every script by store/redis.py (Redis scripts cannot import).
--
-- Conventions of every script:
--   KEYS: KEYS_PER_SUBJECT (11) keys for each subject, in store/keys.py's script_keys() order:
--         cfg, rw, day, month, holds, hexp, ovr, alerts, week, lifetime, defaults (the scope
--         defaults' hash on the subject's slot); then the script's own extra keys.
--   ARGV: a script header, then ONE value per subject, built by engine/plan.py: the
--         space-separated fields version ("<v>", or "<v>|<default>=<v>|..." for a subject
--         without a quota of its own: the defaults that decided its quota), scope, identifier, day id, day end ms, month id,
--         month end ms, shadow ("1"/"0"), thresholds ("80,90,95"), then the limits
--         rpm rph rpd tpm tpd cpr cd cm mc cw cl rl tl ("-" = none), then week id, week end
--         ms, then when the subject ends ("-" = never; a run), then where its quota comes
--         from ("own", the default's name such as "user:*", "-" = none).
--   Replies are nested arrays of strings and integers (never JSON: Lua prints large numbers
--   as 1.2e+14, and money must stay exact). Amounts stay below 2^53, so doubles are exact.
--   Every number that becomes text (a hold, an alert field, a reply string) goes through
--   itoa(): Lua 5.1's tostring() and `..` use %.14g, which turns 1e14 nanos ($100,000) into
--   "1e+14". Integer replies are exact already (Redis converts a Lua number to an integer).
--   Every script is also a function of one Redis Functions library (store/functions.py): this
--   file's top level is then run once, at FUNCTION LOAD, where Redis 7.0 offers no global but
--   `redis`. So the top level keeps to plain Lua: string methods (`('d'):rep(n)`), `#`, numeric
--   for; no string., math., table., ipairs or tonumber outside a function.

local KEYS_PER_SUBJECT = 11
local SUB_BUCKETS = 10
local WINDOW_MS = { m = 60000, h = 3600000, d = 86400000 }
local PERIOD_GRACE_MS = 3600000
local ALERT_RETENTION_MS = 7 * 24 * 3600 * 1000
local SUBJECT_ALERTS_MAXLEN = 1000
local SUBJECT_ALERTS_TTL_MS = 35 * 24 * 3600 * 1000
local BREAKDOWN_CAP = 500 -- fields in one period hash, about 120 providers and tools
-- How long an admitted check's id stays undoable (check.lua, refund.lua): an undo is sent as soon
-- as the store answers again, and the check it undoes ran no earlier than that.
local CHECK_MARK_TTL_MS = 60000

-- Limit codes, in ARGV order, with the ring (metric, window) of the rate limits.
local LIMITS = {
  { name = 'requests_per_minute', ring = 'rm', window = 'm' },
  { name = 'requests_per_hour', ring = 'rh', window = 'h' },
  { name = 'requests_per_day', ring = 'rd', window = 'd' },
  { name = 'tokens_per_minute', ring = 'tm', window = 'm' },
  { name = 'tokens_per_day', ring = 'td', window = 'd' },
  { name = 'cost_per_request' },
  { name = 'cost_daily' },
  { name = 'cost_monthly' },
  { name = 'max_concurrent' }, -- open holds at once; only reserving checks take a slot
  { name = 'cost_weekly' },
  { name = 'cost_lifetime' }, -- never resets; its hash has no TTL
  -- Requests and tokens ever admitted (the lifetime hash's 'r' and 't'): a run's caps.
  { name = 'requests_lifetime' },
  { name = 'tokens_lifetime' },
}

local function int(value)
  return tonumber(value) or 0
end

-- The exact decimal text of an integer (below 2^53); anything else is a bug, never rounded.
local function itoa(n)
  if type(n) ~= 'number' or n ~= math.floor(n) then
    error('quota-sidecar: not an integer: ' .. tostring(n))
  end
  return string.format('%d', n)
end

-- Exact "used >= ceil(limit * pct / 100)" without overflowing 2^53 in the product.
local function reaches(used, limit, pct)
  local q = math.floor(limit / 100)
  local r = limit - q * 100
  return used >= q * pct + math.ceil(r * pct / 100)
end

-- One subject's keys and its one argument: space-separated fields (see engine/plan.py), 9
-- fields, the 13 limits, then the week's id and end, when the subject ends and where its quota
-- comes from: split by ONE
-- string.match (a gmatch loop, a field at a time, cost most of the parsing).
-- `head` is how many ARGV precede the subject arguments.
local SUBJECT_FIELDS = '^' .. ('(%S+) '):rep(25) .. '(%S+)$'

local function subject(i, head)
  local k = (i - 1) * KEYS_PER_SUBJECT
  local version, scope, identifier, day_id, day_end, month_id, month_end, shadow, thresholds,
    rpm, rph, rpd, tpm, tpd, cpr, cd, cm, mc, cw, cl, rl, tl, week_id, week_end, ends, source =
    string.match(ARGV[head + i], SUBJECT_FIELDS)
  if not version then error('quota-sidecar: a subject argument without its 26 fields') end
  local s = {
    index = i,
    cfg = KEYS[k + 1], rw = KEYS[k + 2], day = KEYS[k + 3], month = KEYS[k + 4],
    holds = KEYS[k + 5], hexp = KEYS[k + 6], ovr = KEYS[k + 7], alerts = KEYS[k + 8],
    week = KEYS[k + 9], life = KEYS[k + 10], dflt = KEYS[k + 11],
    version = version, scope = scope, identifier = identifier,
    day_id = day_id, day_end = int(day_end), month_id = month_id, month_end = int(month_end),
    shadow = shadow == '1', thresholds = {}, limits = {},
    week_id = week_id, week_end = int(week_end),
  }
  for t in string.gmatch(thresholds, '%d+') do
    s.thresholds[#s.thresholds + 1] = tonumber(t)
  end
  local values = { rpm, rph, rpd, tpm, tpd, cpr, cd, cm, mc, cw, cl, rl, tl } -- LIMITS' order
  for j = 1, #LIMITS do
    if values[j] ~= '-' then s.limits[LIMITS[j].name] = tonumber(values[j]) end
  end
  -- A subject that ends (a run, see engine/runs.py) names when: all its keys end with it.
  if ends ~= '-' then s.expire_at = int(ends) end
  -- Where its quota comes from: "own", a default's name ("user:*"), "-" (none); for alerts.
  if source == 'own' then
    s.quota_source, s.quota_default = 'own', ''
  elseif source ~= '-' then
    s.quota_source, s.quota_default = 'default', source
  end
  return s
end

-- Cap the TTL of every key of a subject that ends (and of `extra` keys on its slot) at its
-- end, so nothing of an expired run outlives it: keys without a TTL (the lifetime hash) and
-- keys whose own TTL runs longer (alerts, idempotency) alike. Keys that expire sooner keep it.
local function expire_with_subject(s, now, extra)
  if not s.expire_at then return end
  -- Relative to the engine's clock, as every period's TTL is (Redis's own clock may differ).
  local left = math.max(s.expire_at - now, 1)
  local keys = { s.rw, s.day, s.month, s.holds, s.hexp, s.ovr, s.alerts, s.week, s.life }
  for _, key in ipairs(extra or {}) do keys[#keys + 1] = key end
  for _, key in ipairs(keys) do
    local ttl = redis.call('PTTL', key)
    if ttl == -1 or ttl > left then redis.call('PEXPIRE', key, left) end
  end
end

-- The stored config version must match the one the caller planned with; else it re-plans.
-- A subject without a quota of its own was planned with the scope defaults that decide it
-- ("<v>|user:*@acme=3|user:*=7", see engine/defaults.py): their versions, on the subject's own
-- slot, must match too, so a default changed, created or removed binds at once.
local function stale_version(s, stored)
  local own, defaults = string.match(s.version, '^([^|]*)(.*)$')
  if (stored or '0') ~= own then return true end
  if defaults == '' then return false end
  local fields, wanted = {}, {}
  for field, version in string.gmatch(defaults, '|([^|=]+)=([^|]*)') do
    fields[#fields + 1], wanted[#wanted + 1] = field, version
  end
  local found = redis.call('HMGET', s.dflt, unpack(fields))
  for j, version in ipairs(wanted) do
    if (found[j] or '0') ~= version then return true end
  end
  return false
end

-- One read for the version and the overrides flag ('o', set by engine/overrides.py on the
-- first grant and never removed), so apply_overrides() reads the overrides only when some
-- may be in force.
local function stale(s)
  local cfg = redis.call('HMGET', s.cfg, 'v', 'o')
  s.has_overrides = cfg[2] ~= false
  return stale_version(s, cfg[1])
end

-- Overrides in force: block/bypass expiries, raised limits, bonus credit of this period.
-- Expired entries are ignored here; the expiry sweeper deletes them and raises the event.
-- Read only when stale() found the subject's overrides flag, or for a run (whose config hash
-- ends with it, so the flag is not kept there; see engine/overrides.py), or when stale() was
-- not asked at all.
local function apply_overrides(s, now)
  s.bonus = { cost_daily = 0, cost_monthly = 0, cost_weekly = 0, cost_lifetime = 0 }
  if s.has_overrides == false and not s.expire_at and s.scope ~= 'run' then return end
  local raw = redis.call('HGETALL', s.ovr)
  for n = 2, #raw, 2 do
    local kind, limit, value, expiry, period =
      string.match(raw[n], '^([^|]*)|([^|]*)|([^|]*)|([^|]*)|?(.*)$')
    expiry = int(expiry)
    if kind and expiry > now then
      if kind == 'BLOCK' then
        s.block = math.max(s.block or 0, expiry)
      elseif kind == 'BYPASS' then
        s.bypass = math.max(s.bypass or 0, expiry)
      elseif kind == 'RAISE_LIMIT' then
        -- Only a limit the config still has: the config may have dropped it since the grant,
        -- and a raise must never create (tighten) a limit.
        if s.limits[limit] then s.limits[limit] = math.max(s.limits[limit], int(value)) end
      elseif kind == 'BONUS_CREDIT' then
        if (limit == 'cost_daily' and period == 'day:' .. s.day_id)
          or (limit == 'cost_monthly' and period == 'month:' .. s.month_id)
          or (limit == 'cost_weekly' and period == 'week:' .. s.week_id)
          or (limit == 'cost_lifetime' and period == 'lifetime') then
          s.bonus[limit] = s.bonus[limit] + int(value)
        end
      end
    end
  end
  for name, extra in pairs(s.bonus) do
    if s.limits[name] and extra > 0 then s.limits[name] = s.limits[name] + extra end
  end
end

-- Return expired holds to the budget, then read what is still held. With nothing held and
-- no hold being taken or settled (`force`), the expiry index need not be read at all.
local function held(s, now, force)
  local sum = int(redis.call('HGET', s.holds, '_sum'))
  if sum <= 0 and not force then return sum end
  local due = redis.call('ZRANGEBYSCORE', s.hexp, '-inf', now)
  for _, id in ipairs(due) do
    local hold = redis.call('HGET', s.holds, id)
    if hold then
      local cost = int(string.match(hold, '^(%d+)'))
      redis.call('HINCRBY', s.holds, '_sum', 0 - cost) -- never -0: Redis rejects "-0"
      redis.call('HDEL', s.holds, id)
      sum = sum - cost
    end
    redis.call('ZREM', s.hexp, id)
  end
  return sum
end

-- Sliding-window rings. A ring is SUB_BUCKETS + 1 slots of WINDOW/SUB_BUCKETS each, kept in
-- ONE field of the subject's rw hash named after it ('rm', 'rh', 'rd', 'tm', 'td'), packed
-- with struct as SUB_BUCKETS + 3 doubles (exact: every count stays below 2^53): the index of
-- the newest bucket written, when the ring began (ms; a settle tells by it whether the charge
-- it would take back is still in this ring), then the slots' counts. Slots newer than that
-- index hold counts of buckets the window has left; they are zeroed when read. A subject's
-- rings are read in one HMGET of a field per ring and written in one HSET by flush_rings:
-- unpacking one field is one C call, where a field per slot cost a hash lookup each.
local RING_FORMAT = '<' .. ('d'):rep(SUB_BUCKETS + 3)
local RING_SLOTS = SUB_BUCKETS + 1
local RING_SPECS = {}
for j = 1, #LIMITS do
  if LIMITS[j].ring then RING_SPECS[#RING_SPECS + 1] = LIMITS[j] end
end

-- One ring as read at `now`: r.v is the packed array (v[1] newest bucket, v[2] began, v[3 +
-- slot] the slot's count) with the slots of buckets outside the window zeroed; r.base the newest
-- bucket written (nil: no ring), r.cur the current bucket, r.sum the window's count.
local function decode_ring(s, spec, packed, now)
  local g = WINDOW_MS[spec.window] / SUB_BUCKETS
  local idx = math.floor(now / g)
  local v = packed and { struct.unpack(RING_FORMAT, packed) }
  local base = v and v[1] or nil
  local r = { ring = spec.ring, g = g, base = base, cur = math.max(idx, base or idx), sum = 0,
    now = now }
  if v and base >= r.cur - SUB_BUCKETS then
    for b = base + 1, r.cur do v[3 + b % RING_SLOTS] = 0 end
    for slot = 3, 2 + RING_SLOTS do r.sum = r.sum + v[slot] end
    if v[2] > 0 then r.began = v[2] end
  else
    if v then r.began = v[2] > 0 and v[2] or nil end
    v = { base or 0, v and v[2] or 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }
  end
  v[RING_SLOTS + 3] = nil -- struct.unpack's last value is the position after the data
  if r.sum < 0 then r.sum = 0 end
  r.v = v
  s.rings[spec.name] = r
end

local function read_rings(s, specs, now)
  s.rings, s.rw_set = s.rings or {}, s.rw_set or {}
  if #specs == 0 then return end
  local fields = {}
  for j, spec in ipairs(specs) do fields[j] = spec.ring end
  local vals = redis.call('HMGET', s.rw, unpack(fields))
  for j, spec in ipairs(specs) do decode_ring(s, spec, vals[j], now) end
end

-- A check's first read of a subject: stale() and read_rings() in ONE HMGET. The rings hash
-- caches the config version and the overrides flag beside the rings ('v', 'o': copied from the
-- cfg hash by the check that last wrote the rings without finding them); every writer of
-- either in the cfg hash deletes the copies in the same step (engine/configs.py,
-- engine/overrides.py; a reset deletes the whole hash), so a copy is never older than the cfg
-- hash. A subject without rings, or one that ends (a run: its cfg hash expires with it, and a
-- copy could outlive it), reads its cfg hash. Returns whether the subject is stale.
local function read_subject(s, specs, now)
  s.rings, s.rw_set = s.rings or {}, s.rw_set or {}
  if #specs == 0 or s.expire_at or s.scope == 'run' then
    if stale(s) then return true end
    read_rings(s, specs, now)
    return false
  end
  local fields = { 'v', 'o' }
  for j, spec in ipairs(specs) do fields[j + 2] = spec.ring end
  local vals = redis.call('HMGET', s.rw, unpack(fields))
  local version = vals[1]
  if version then
    s.has_overrides = vals[2] ~= false
  else
    local cfg = redis.call('HMGET', s.cfg, 'v', 'o')
    version, s.has_overrides = cfg[1] or '0', cfg[2] ~= false
    s.rw_cache = version -- flush_rings writes it beside the rings
  end
  if stale_version(s, version) then return true end
  for j, spec in ipairs(specs) do decode_ring(s, spec, vals[j + 2], now) end
  return false
end

-- Add `amount` to the bucket `at` (default: the current one); written by flush_rings.
local function ring_add(s, r, amount, at)
  local target = at or r.cur
  if not r.base or r.cur > r.base then
    -- read_rings zeroed the slots of the buckets between the newest written and the current.
    -- A new ring (first write, or after a reset deleted the hash) notes when it began.
    if not r.base then
      r.began = r.now
      r.v[2] = r.now
    end
    r.v[1] = r.cur
    r.base = r.cur
    s.rw_rolled = true
  end
  s.rw_set[r.ring] = r
  if target < r.cur - SUB_BUCKETS then return end -- that bucket has left the window
  local i = 3 + target % RING_SLOTS
  r.v[i] = r.v[i] + amount
  r.sum = r.sum + amount
end

-- Take back up to `amount` from bucket `at`: never more than it still holds (a reset or a
-- rolled window may have dropped the charge, or others' charges may have replaced it), so a
-- credit never reaches usage it did not come from, and no count goes below zero.
local function ring_credit(s, r, amount, at)
  if amount <= 0 or not r.base or at > r.base or at < r.cur - SUB_BUCKETS then return end
  local have = r.v[3 + at % RING_SLOTS]
  local take = math.min(amount, have)
  if take > 0 then ring_add(s, r, 0 - take, at) end
end

-- Write what ring_add changed. The TTL (the longest window + 10 % + a minute) is renewed only
-- when a window moved to a new bucket: a bucket's first write outlives its whole window.
local function flush_rings(s, ttl)
  local set = {}
  for ring, r in pairs(s.rw_set or {}) do
    set[#set + 1] = ring
    set[#set + 1] = struct.pack(RING_FORMAT, unpack(r.v))
  end
  if #set > 0 and s.rw_cache then -- read_subject() read these from the cfg hash
    local n = #set
    set[n + 1], set[n + 2] = 'v', s.rw_cache
    if s.has_overrides then set[n + 3], set[n + 4] = 'o', '1' end
    s.rw_cache = nil
  end
  if #set > 0 then redis.call('HSET', s.rw, unpack(set)) end
  if s.rw_rolled and ttl and ttl > 0 then redis.call('PEXPIRE', s.rw, ttl) end
  s.rw_set, s.rw_rolled = {}, false
end

-- The TTL of the rings hash: its longest configured window, plus one bucket, plus a minute.
local function rings_ttl(s)
  local longest = 0
  for _, spec in ipairs(RING_SPECS) do
    if s.limits[spec.name] then longest = math.max(longest, WINDOW_MS[spec.window]) end
  end
  if longest == 0 then return 0 end
  return longest + longest / SUB_BUCKETS + 60000
end

-- When the counted span will hold at most `target`: the instant enough old buckets have left.
local function ring_free_at(r, target)
  if target < 0 then return nil end
  local sum = r.sum
  for b = r.cur - SUB_BUCKETS, r.cur do
    local c = r.v[3 + b % RING_SLOTS]
    sum = sum - c
    if sum <= target then return (b + SUB_BUCKETS + 1) * r.g end
  end
  return nil
end

-- When the oldest non-empty bucket leaves the window (the status's reset time).
local function ring_reset_at(r)
  for b = r.cur - SUB_BUCKETS, r.cur do
    if r.v[3 + b % RING_SLOTS] > 0 then
      return (b + SUB_BUCKETS + 1) * r.g
    end
  end
  return 0
end

local function expire_period(key, now, end_ms)
  redis.call('PEXPIRE', key, math.max(end_ms - now, 0) + PERIOD_GRACE_MS)
end

-- Append an alert to the shared stream (when given) and to the subject's stream, with one id.
local function emit_alert(s, global_stream, now, kind, severity, limit, pct, used, limit_value,
                          period, message, breakdown)
  local fields = {
    'k', kind, 'sv', severity, 's', s.scope, 'i', s.identifier, 'l', limit,
    'p', itoa(pct), 'u', itoa(used), 'lv', itoa(limit_value), 'pe', period, 't', itoa(now),
    'm', message,
  }
  if breakdown and breakdown ~= '' then
    fields[#fields + 1] = 'bd'
    fields[#fields + 1] = breakdown
  end
  if s.quota_source then -- whether the quota came from a default (see store/alert_codec.py)
    fields[#fields + 1] = 'qs'
    fields[#fields + 1] = s.quota_source
    fields[#fields + 1] = 'qd'
    fields[#fields + 1] = s.quota_default
  end
  local id
  if global_stream ~= '' then
    id = redis.call('XADD', global_stream, 'MINID', '~', itoa(now - ALERT_RETENTION_MS), '*',
      unpack(fields))
    redis.call('XADD', s.alerts, 'MAXLEN', '~', SUBJECT_ALERTS_MAXLEN, id, unpack(fields))
  else
    id = redis.call('XADD', s.alerts, 'MAXLEN', '~', SUBJECT_ALERTS_MAXLEN, '*', unpack(fields))
  end
  redis.call('PEXPIRE', s.alerts, SUBJECT_ALERTS_TTL_MS)
  local reply = { id }
  for _, f in ipairs(fields) do reply[#reply + 1] = f end
  return reply
end

-- "$85.00", "$0.05", "$0.000001", as money.format_dollars writes them.
local function dollars(nanos)
  local digits = string.gsub(string.format('%09d', nanos % 1e9), '0+$', '')
  if #digits < 2 then digits = digits .. string.rep('0', 2 - #digits) end
  return string.format('$%d.%s', math.floor(nanos / 1e9), digits)
end

-- A period's spend by provider, tool and model, for a budget alert: one line per entry,
-- "<p|t|m>\t<name>\t<cost nanos>\t<calls>" (names hold no control characters), the counters
-- as Redis keeps them (exact text). Bounded like the breakdown itself (BREAKDOWN_CAP fields).
local function breakdown_of(period_key)
  local raw = redis.call('HGETALL', period_key)
  local costs, calls, order = {}, {}, {}
  for i = 1, #raw, 2 do
    local kind, counted, name = string.match(raw[i], '^([ptm])(n?):(.+)$')
    if kind then
      local key = kind .. '\t' .. name
      if counted == 'n' then calls[key] = raw[i + 1] else
        costs[key] = raw[i + 1]
        order[#order + 1] = key
      end
    end
  end
  local lines = {}
  for _, key in ipairs(order) do
    lines[#lines + 1] = key .. '\t' .. costs[key] .. '\t' .. (calls[key] or '0')
  end
  return table.concat(lines, '\n')
end

-- Claim every threshold (and exhaustion at 100) that `used` reaches, once per period: the
-- claim is an HSETNX in the period hash, so concurrent records on any replica claim it once.
local function claim_thresholds(s, global_stream, now, period_key, period, limit, used, limit_value,
                                alerts)
  if not limit_value or limit_value <= 0 then return end
  local levels = {}
  for _, t in ipairs(s.thresholds) do levels[#levels + 1] = t end
  levels[#levels + 1] = 100
  for _, pct in ipairs(levels) do
    if reaches(used, limit_value, pct)
      and redis.call('HSETNX', period_key, 'a:' .. limit .. ':' .. itoa(pct), now) == 1 then
      local kind, severity = 'THRESHOLD_WARNING', 'WARNING'
      if pct == 100 then kind, severity = 'EXHAUSTED', 'CRITICAL' end
      local shown_used, shown_limit = itoa(used), itoa(limit_value)
      local breakdown
      if string.sub(limit, 1, 5) == 'cost_' then
        shown_used, shown_limit = dollars(used), dollars(limit_value)
        breakdown = breakdown_of(period_key)
      end
      local message = string.format('%s:%s reached %d%% of %s (%s of %s) in %s', s.scope,
        s.identifier, pct, limit, shown_used, shown_limit, period)
      alerts[#alerts + 1] = emit_alert(s, global_stream, now, kind, severity, limit, pct, used,
        limit_value, period, message, breakdown)
    end
  end
end

-- The highest threshold (or 100) that `used` reaches, for the warnings in force.
local function warning_level(s, used, limit_value)
  if not limit_value or limit_value <= 0 then return nil end
  if reaches(used, limit_value, 100) then return 100 end
  local level
  for _, t in ipairs(s.thresholds) do
    if reaches(used, limit_value, t) then level = t end
  end
  return level
end
