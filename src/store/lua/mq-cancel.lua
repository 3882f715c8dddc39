--[[
  Takes back a message that was not committed: a write whose replicas did not acknowledge
  it (WAIT), a DATA that failed or was refused, a transaction that ended before DATA, or a
  pending message the reaper found abandoned. Atomic with mq-commit: exactly one of them
  decides, so a 4xx after DATA never meets a delivery.

  Key count: variable (6 + one per delivery unit).
    KEYS[1] message hash
    KEYS[2] message data hash
    KEYS[3] pending zset
    KEYS[4] queued bytes of the shard
    KEYS[5] reservations zset
    KEYS[6] reservation sizes hash
    KEYS[7..] unit hashes
  Input:
    ARGV[1] message id
    ARGV[2] only when pending at or before this time (ms); '' for any time

  Output:
    1 taken back (or nothing was there), 0 already committed (it will be delivered),
    -1 pending but newer than ARGV[2] (left alone)
]]
local id = ARGV[1]
redis.call('ZREM', KEYS[5], id)
redis.call('HDEL', KEYS[6], id)
local since = redis.call('ZSCORE', KEYS[3], id)
if since then
  if ARGV[2] ~= '' and tonumber(since) > tonumber(ARGV[2]) then return -1 end
  redis.call('ZREM', KEYS[3], id)
  local bytes = tonumber(redis.call('HGET', KEYS[1], 'bytes') or '0')
  if bytes > 0 then redis.call('DECRBY', KEYS[4], bytes) end
  redis.call('DEL', KEYS[1])
  redis.call('UNLINK', KEYS[2])
  for i = 7, #KEYS do redis.call('DEL', KEYS[i]) end
  return 1
end
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('UNLINK', KEYS[2])
return 1
