--[[
  Operator actions on one delivery unit (switchyard queue hold|release|retry).
  hold: a ready unit moves to the held set; an active one is flagged and goes there
  when its attempt ends. release: back to ready, due now. retry: a ready unit is due now.

  Input:
    KEYS[1] ready zset
    KEYS[2] active zset
    KEYS[3] held zset
    KEYS[4] unit hash
    ARGV[1] unit id
    ARGV[2] action: hold | release | retry
    ARGV[3] now (ms)

  Output:
    1 when the unit changed, 0 when it did not (gone, or already in that state)
]]
local uid, action, now = ARGV[1], ARGV[2], ARGV[3]
if redis.call('EXISTS', KEYS[4]) == 0 then return 0 end
if action == 'hold' then
  if redis.call('HGET', KEYS[4], 'held') == '1' then return 0 end
  redis.call('HSET', KEYS[4], 'held', '1')
  if redis.call('ZREM', KEYS[1], uid) == 1 then redis.call('ZADD', KEYS[3], now, uid) end
  return 1
elseif action == 'release' then
  if redis.call('HGET', KEYS[4], 'held') ~= '1' then return 0 end
  redis.call('HSET', KEYS[4], 'held', '0')
  if redis.call('ZREM', KEYS[3], uid) == 1 then redis.call('ZADD', KEYS[1], now, uid) end
  return 1
elseif action == 'retry' then
  if redis.call('ZSCORE', KEYS[1], uid) == false then return 0 end
  redis.call('ZADD', KEYS[1], now, uid)
  return 1
end
return redis.error_reply('SY_BAD_ACTION ' .. tostring(action))
