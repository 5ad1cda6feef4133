-- claim_alerts.lua: the alerts of one subject that an alert-service name has not seen yet
-- (QuotaAlertService.check_quota_alerts, see store/alert_streams.py). Reading the new entries
-- and moving the name's cursor past them is one atomic step, so two processes asking at once,
-- or one asking twice, never get the same alert twice.
-- KEYS: the subject's alert stream, the name's cursor on it (same hash tag).
-- ARGV: how many entries at most, the cursor's time to live in ms.
-- Reply: the entries after the cursor, as XRANGE returns them ([id, [field, value, ...]]).
local cursor = redis.call('GET', KEYS[2]) or '0-0'
local entries = redis.call('XRANGE', KEYS[1], '(' .. cursor, '+', 'COUNT', ARGV[1])
if #entries > 0 then
  redis.call('SET', KEYS[2], entries[#entries][1], 'PX', ARGV[2])
end
return entries
