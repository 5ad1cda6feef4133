-- default_put.lua: write one scope default (engine/defaults.py) into one defaults hash, unless
-- that hash already holds a newer version of it: two admins changing one default at once end
-- with the later version on every slot, whatever order their writes reach each slot in.
--
-- KEYS: the defaults hash (qs:dflt, or one slot's copy on Redis Cluster).
-- ARGV: the default's field (store/keys.default_field), its version, its JSON ('' = removed:
--       the version stays as the tombstone, so a check planned before the removal is stale).
-- Reply: 1 when written, 0 when a newer version was there already.
local field, version, document = ARGV[1], int(ARGV[2]), ARGV[3]
if int(redis.call('HGET', KEYS[1], field)) >= version then return 0 end
redis.call('HSET', KEYS[1], field, itoa(version))
if document == '' then
  redis.call('HDEL', KEYS[1], field .. ':j')
else
  redis.call('HSET', KEYS[1], field .. ':j', document)
end
return 1
