-- run_open.lua: open a run (engine/runs.py) unless it is open already, atomically, so two
-- replicas opening one run at once agree on its parent, limits and end. The store is the judge
-- of a run's parent: an open run keeps the parent it was opened with, and a call naming another
-- one is refused here, with nothing written, whichever replica sends it.
-- KEYS: the run's cfg hash.
-- ARGV: the run's config document (JSON), its parent run id ('' for a root), when it ends
--   (ms since the epoch), now (ms).
-- Reply: { state, parent, ends_at } as stored: 'opened' (by this call), 'open' (it was open
--   already), 'parent' (it was open already with another parent: refused).
local cfg = KEYS[1]
local found = redis.call('HMGET', cfg, 'p', 'x')
if found[2] then
  local parent = found[1] or ''
  if ARGV[2] ~= '' and ARGV[2] ~= parent then return { 'parent', parent, found[2] } end
  return { 'open', parent, found[2] }
end
redis.call('HSET', cfg, 'v', '1', 'j', ARGV[1], 'u', ARGV[4], 'p', ARGV[2], 'x', ARGV[3])
-- Relative to the engine's clock, as every TTL the scripts set is.
redis.call('PEXPIRE', cfg, math.max(int(ARGV[3]) - int(ARGV[4]), 1))
return { 'opened', ARGV[2], ARGV[3] }
