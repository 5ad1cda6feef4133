-- expire_override.lua: remove one due override and raise its OVERRIDE_EXPIRED alert, ONLY IF
-- the override still holds the value the sweep read (alerting/expiry.py, store/alert_streams.py).
-- HDEL answers on exactly one replica, so exactly one replica raises the alert.
-- KEYS: the subject's ovr hash, its ovrmeta hash, its alert stream, then the shared alert
--       stream (absent on Redis Cluster, where it lives on another slot).
-- ARGV: override id, the value the sweep read, now ms, retention ms, subject stream MAXLEN,
--       subject stream TTL ms, then the alert's field/value pairs.
-- Reply: the alert's entry id, or false when another replica (or a revoke) got there first.
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return false end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
local fields = {}
for i = 7, #ARGV do fields[#fields + 1] = ARGV[i] end
local id = '*'
if KEYS[4] then
  id = redis.call('XADD', KEYS[4], 'MINID', '~', tonumber(ARGV[3]) - tonumber(ARGV[4]), '*',
    unpack(fields))
end
id = redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[5], id, unpack(fields))
redis.call('PEXPIRE', KEYS[3], ARGV[6])
return id
