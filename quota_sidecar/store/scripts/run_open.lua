-- run_open.lua: open a run (engine/runs.py) unless it is open already, atomically, so two
-- replicas opening one run at once agree on its parent, limits and end.
-- KEYS: the run's cfg hash.
-- ARGV: the run's config document (JSON), its parent run id ('' for a root), when it ends
--   (ms since the epoch), now (ms).
-- Reply: { parent, ends_at } as stored (the existing run's when it was open already).
local cfg = KEYS[1]
local found = redis.call('HMGET', cfg, 'p', 'x')
if found[2] then return { found[1] or '', found[2] } end
redis.call('HSET', cfg, 'v', '1', 'j', ARGV[1], 'u', ARGV[4], 'p', ARGV[2], 'x', ARGV[3])
-- Relative to the engine's clock, as every TTL the scripts set is.
redis.call('PEXPIRE', cfg, math.max(int(ARGV[3]) - int(ARGV[4]), 1))
return { ARGV[2], ARGV[3] }
