--[[
  Removes a delivery unit for good (delivered, bounced, or deleted by an operator) and
  its message once no unit of it is left: the message hash, its data chunks, and its
  bytes from the shard's queued-bytes count (relay.queueBudget).

  Input:
    KEYS[1] ready zset
    KEYS[2] active zset
    KEYS[3] held zset
    KEYS[4] unit hash
    KEYS[5] message hash
    KEYS[6] message data hash (chunk index -> bytes)
    KEYS[7] queued bytes of the shard (string counter)
    ARGV[1] unit id

  Output:
    1 when the unit existed, 0 when it was already gone
]]
local uid = ARGV[1]
redis.call('ZREM', KEYS[1], uid)
redis.call('ZREM', KEYS[2], uid)
redis.call('ZREM', KEYS[3], uid)
if redis.call('DEL', KEYS[4]) == 0 then return 0 end
if redis.call('HINCRBY', KEYS[5], 'left', -1) <= 0 then
  local bytes = tonumber(redis.call('HGET', KEYS[5], 'bytes') or '0')
  redis.call('DEL', KEYS[5])
  redis.call('UNLINK', KEYS[6])
  if bytes > 0 then redis.call('DECRBY', KEYS[7], bytes) end
end
return 1
