-- sample.lua: keep one more actual cost in a bounded list of recent costs (history estimates,
-- engine/samples.py): newest first, at most `cap` entries, the whole list kept `ttl` ms after
-- its last sample.
-- KEYS: the list.
-- ARGV: cost nanos, cap, ttl ms.
-- Reply: the list's length.
redis.call('LPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], 0, int(ARGV[2]) - 1)
redis.call('PEXPIRE', KEYS[1], int(ARGV[3]))
return redis.call('LLEN', KEYS[1])
