--[[
  Removes a delivery unit for good (delivered, bounced, or deleted by an operator) and
  its message once no unit of it is left.

  Input:
    KEYS[1] ready zset
    KEYS[2] active zset
    KEYS[3] held zset
    KEYS[4] unit hash
    KEYS[5] message hash
    ARGV[1] unit id

  Output:
    1 when the unit existed, 0 when it was already gone
]]
local uid = ARGV[1]
redis.call('ZREM', KEYS[1], uid)
redis.call('ZREM', KEYS[2], uid)
redis.call('ZREM', KEYS[3], uid)
if redis.call('DEL', KEYS[4]) == 0 then return 0 end
if redis.call('HINCRBY', KEYS[5], 'left', -1) <= 0 then redis.call('DEL', KEYS[5]) end
return 1
