--[[
  Reserves room for one message in a queue shard's budget (relay.queueBudget) at MAIL
  time: the bytes already queued in the shard plus every live reservation plus this one
  must stay within the budget. A reservation lives until the end of DATA (mq-put or
  mq-cancel release it) or until it expires (its relay died mid-transaction); every chunk
  written renews it.

  Input:
    KEYS[1] queued bytes of the shard (string counter)
    KEYS[2] reservations zset (message id -> expiry ms)
    KEYS[3] reservation sizes hash (message id -> bytes)
    ARGV[1] message id
    ARGV[2] bytes to reserve
    ARGV[3] budget in bytes (0: no budget, always granted)
    ARGV[4] now (ms)
    ARGV[5] reservation lifetime (ms)

  Output:
    { 1 granted | 0 refused, bytes queued and reserved in the shard before this one }
]]
local id, size, budget, now = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)
for _, old in ipairs(expired) do redis.call('HDEL', KEYS[3], old) end
if #expired > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now) end
redis.call('HDEL', KEYS[3], id)
redis.call('ZREM', KEYS[2], id)
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
for _, v in ipairs(redis.call('HVALS', KEYS[3])) do used = used + tonumber(v) end
if budget > 0 and used + size > budget then return { 0, used } end
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[5]), id)
redis.call('HSET', KEYS[3], id, size)
return { 1, used }
