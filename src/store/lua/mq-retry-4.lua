--[[
  Reschedules a delivery unit after an attempt that left recipients to try again: its
  fields are updated and it goes back to the ready set (or to hold, when an operator
  held it during the attempt). Does nothing when an operator deleted the unit meanwhile.

  Input:
    KEYS[1] ready zset
    KEYS[2] active zset
    KEYS[3] held zset
    KEYS[4] unit hash
    ARGV[1] unit id
    ARGV[2] due time (ms)
    ARGV[3..] field, value pairs to set on the unit

  Output:
    1 when rescheduled, 0 when the unit is gone
]]
local uid = ARGV[1]
if redis.call('EXISTS', KEYS[4]) == 0 then
  redis.call('ZREM', KEYS[2], uid)
  return 0
end
if #ARGV > 2 then redis.call('HSET', KEYS[4], unpack(ARGV, 3)) end
redis.call('ZREM', KEYS[2], uid)
if redis.call('HGET', KEYS[4], 'held') == '1' then
  redis.call('ZADD', KEYS[3], ARGV[2], uid)
else
  redis.call('ZADD', KEYS[1], ARGV[2], uid)
end
return 1
