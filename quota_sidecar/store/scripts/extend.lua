-- extend.lua: ExtendReservation, atomically over the N subjects of one hold (a streamed call
-- that needs more than it held). Either every subject still holds the hold and has room for the
-- new total, and every one's hold grows to it (and its lease is renewed), or nothing changes.
-- Only money is judged: blocks, the per-request limit and the cost budgets (day, month, week,
-- lifetime), against what is spent plus everything held (this hold's old amount included).
-- The hold's tokens are left as they were: the settle corrects the token windows to what the
-- call really used, as it does for any hold.
--
-- KEYS: 11 per subject (see _lib.lua).
-- ARGV: now_ms, the hold's new total cost nanos, hold id, lease ms, N, mode ('grow' | 'restore'),
--       then one per subject. 'restore' (cluster only: undoing the slots a later slot denied)
--       sets the hold back to the total given, judges nothing and keeps the lease.
-- Reply: {'stale', {indexes}} | {'gone', index of a subject without the hold} |
--        {'ok', total before, total after} |
--        {'deny', code, index, limit, retry_after ms (-1 = never), used, held, limit value,
--         the hold's total (unchanged)}
local HEAD = 6
local now, target, hold_id = int(ARGV[1]), int(ARGV[2]), ARGV[3]
local lease, n, mode = int(ARGV[4]), int(ARGV[5]), ARGV[6]

local subjects, stale_list = {}, {}
for i = 1, n do
  subjects[i] = subject(i, HEAD)
  if stale(subjects[i]) then stale_list[#stale_list + 1] = i end
end
if #stale_list > 0 then return { 'stale', stale_list } end

local before = 0
for _, s in ipairs(subjects) do
  s.held = held(s, now, true) -- returns expired holds first: an expired hold is gone
  local hold = redis.call('HGET', s.holds, hold_id)
  if not hold then return { 'gone', s.index } end
  local cost, tokens, expiry, placed, rest =
    string.match(hold, '^(%d+)|(%d+)|(%d+)|(%d+)|?(.*)$')
  s.hold_cost, s.hold_tokens, s.hold_expiry = int(cost), tokens, int(expiry)
  s.hold_placed, s.hold_rest = placed, rest or ''
  before = math.max(before, s.hold_cost)
end

-- The most binding money limit of one subject growing by `add`, or nil.
local function denial_of(s, add)
  if s.block then return { 'BLOCKED', '', s.block - now, 0, 0, 0 } end
  if s.bypass or add <= 0 then return nil end
  local cpr = s.limits.cost_per_request
  if cpr and target > cpr then
    return { 'PER_REQUEST_LIMIT_EXCEEDED', 'cost_per_request', -1, target, 0, cpr }
  end
  local budgets = {
    { 'cost_daily', s.day, s.day_end }, { 'cost_monthly', s.month, s.month_end },
    { 'cost_weekly', s.week, s.week_end }, { 'cost_lifetime', s.life, -1 },
  }
  for _, b in ipairs(budgets) do
    local limit = s.limits[b[1]]
    if limit then
      local used = int(redis.call('HGET', b[2], 'c'))
      if used + s.held + add > limit then
        local retry = -1
        if b[3] ~= -1 then retry = math.max(0, b[3] - now) end
        return { 'BUDGET_EXHAUSTED', b[1], retry, used, s.held, limit }
      end
    end
  end
  return nil
end

if mode ~= 'restore' then
  for _, s in ipairs(subjects) do
    apply_overrides(s, now)
    local d = denial_of(s, target - s.hold_cost)
    if d then return { 'deny', d[1], s.index, d[2], d[3], d[4], d[5], d[6], before } end
  end
end

for _, s in ipairs(subjects) do
  local add = target - s.hold_cost
  if mode ~= 'restore' and add < 0 then add = 0 end -- a hold only grows
  local expiry = s.hold_expiry
  if mode ~= 'restore' then expiry = math.max(expiry, now + lease) end
  redis.call('HSET', s.holds, hold_id, itoa(s.hold_cost + add) .. '|' .. s.hold_tokens .. '|'
    .. itoa(expiry) .. '|' .. s.hold_placed .. '|' .. s.hold_rest)
  if add ~= 0 then redis.call('HINCRBY', s.holds, '_sum', add) end
  redis.call('ZADD', s.hexp, expiry, hold_id)
  local keep = expiry - now + 60000
  for _, key in ipairs({ s.holds, s.hexp }) do
    if redis.call('PTTL', key) < keep then redis.call('PEXPIRE', key, keep) end
  end
  expire_with_subject(s, now)
end
return { 'ok', before, math.max(before, target) }
