-- refund.lua: undo exactly what check.lua consumed for N subjects of one cluster slot, when a
-- multi-slot check (engine/cluster.py) was denied by a later slot group after this group had
-- been admitted. Used on Redis Cluster only; a single Redis never needs it.
--
-- What an admitted check.lua consumed for each subject, and what this script undoes:
--   * its requests in each request ring the subject had a limit for, and the estimated tokens in
--     each token ring (when tokens > 0): the same amount, negated, in the bucket of the same
--     `now` (see the note below), never more than that bucket still holds (a usage reset in
--     between may have cleared it), so no count goes below zero;
--   * its requests in the day's 'r' counter;
--   * its requests and the estimated tokens in the lifetime counters ('r', 't' of the lifetime
--     hash) when the check counted them (a run's, or a subject capping them);
--   * with reserve: the hold entry, its cost in the holds' _sum and its member in hexp.
-- Threshold claims (HSETNX 'a:...') are left as they are: the usage they report was real for a
-- moment, and un-claiming could lose the alert a concurrent check relied on.
--
-- Bucket note: check.lua adds to bucket max(floor(now / g), newest bucket written). Refunding at
-- floor(now / g) is that same bucket unless another replica's clock ran ahead; then the refund
-- lands in an older bucket, which only over-counts (the charge outlives its refund by at most a
-- sub-bucket), never under-counts, so a limit can never be exceeded because of a refund.
--
-- It also undoes a check whose reply was lost (engine/undo.py), on a single Redis too: given the
-- check's id and its mark (on its first subject's slot, see check.lua), it refunds only when the
-- check is marked as admitted (1), and leaves 0 so that a check still on its way consumes nothing.
--
-- KEYS: 11 per subject (see _lib.lua), then the check's mark when a check id is given.
-- ARGV: now_ms (the check's), estimated tokens, reserve ('1'/'0'), hold id, requests (the
--       check's count, see check.lua), N, then per subject
--       one value: the comma-separated names of the rate limits the check consumed in (e.g.
--       "requests_per_minute,tokens_per_day"), then the check id ('' or absent = none).
-- Reply: number of subjects refunded.
local HEAD = 6
local now, tokens = int(ARGV[1]), int(ARGV[2])
local reserve, hold_id, requests, n = ARGV[3] == '1', ARGV[4], int(ARGV[5]), int(ARGV[6])
local check_id = ARGV[HEAD + n + 1] or ''
if check_id ~= '' then
  local mark = KEYS[n * KEYS_PER_SUBJECT + 1]
  local admitted = redis.call('GET', mark) == '1'
  redis.call('SET', mark, 0, 'PX', CHECK_MARK_TTL_MS)
  if not admitted then return 0 end
end

local function refund_counter(key)
  -- Never create a period hash (it would have no TTL): a missing one has nothing to refund.
  if requests > 0 and redis.call('EXISTS', key) == 1 then
    redis.call('HINCRBY', key, 'r', 0 - requests)
  end
end

for i = 1, n do
  local k = (i - 1) * KEYS_PER_SUBJECT
  local s = { rw = KEYS[k + 2], day = KEYS[k + 3], month = KEYS[k + 4], holds = KEYS[k + 5],
    hexp = KEYS[k + 6], life = KEYS[k + 10] }
  local consumed = {}
  for name in string.gmatch(ARGV[HEAD + i], '[%w_]+') do consumed[name] = true end
  for _, spec in ipairs(LIMITS) do
    if spec.ring and consumed[spec.name] then
      local amount = tokens
      if spec.ring:sub(1, 1) == 'r' then amount = requests end
      if amount > 0 then
        read_rings(s, { spec }, now)
        local r = s.rings[spec.name]
        ring_credit(s, r, amount, math.floor(now / r.g))
      end
    end
  end
  flush_rings(s, nil)
  -- Lifetime counters (a run's): the request and the estimated tokens, never below zero.
  local lifetime = { requests_lifetime = { 'r', requests }, tokens_lifetime = { 't', tokens } }
  for name, c in pairs(lifetime) do
    if consumed[name] and c[2] > 0 then
      local have = int(redis.call('HGET', s.life, c[1]))
      local take = math.min(have, c[2])
      if take > 0 then redis.call('HINCRBY', s.life, c[1], 0 - take) end
    end
  end
  refund_counter(s.day)
  if reserve then
    local hold = redis.call('HGET', s.holds, hold_id)
    if hold then
      redis.call('HINCRBY', s.holds, '_sum', 0 - int(string.match(hold, '^(%d+)'))) -- never -0
      redis.call('HDEL', s.holds, hold_id)
    end
    redis.call('ZREM', s.hexp, hold_id)
  end
end
return n
