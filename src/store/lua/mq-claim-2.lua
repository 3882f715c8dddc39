--[[
  Claims delivery units that are due, after returning units whose lease ran out (their
  relay died mid-delivery) to the ready set. A claimed unit sits in the active set with
  its lease expiry as score until it is finished, rescheduled or its lease runs out.

  Input:
    KEYS[1] ready zset (uid -> due ms)
    KEYS[2] active zset (uid -> lease expiry ms)
    ARGV[1] now (ms)
    ARGV[2] lease (ms)
    ARGV[3] most units to claim

  Output:
    { number of units reclaimed, number of units still due after this claim, uid... claimed }
]]
local now, lease, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, 200)
for _, uid in ipairs(expired) do
  redis.call('ZREM', KEYS[2], uid)
  redis.call('ZADD', KEYS[1], now, uid)
end
local out = { #expired, 0 }
if limit > 0 then
  local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, limit)
  for _, uid in ipairs(due) do
    redis.call('ZREM', KEYS[1], uid)
    redis.call('ZADD', KEYS[2], now + lease, uid)
    out[#out + 1] = uid
  end
end
out[2] = redis.call('ZCOUNT', KEYS[1], '-inf', now)
return out
