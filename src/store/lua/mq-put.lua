--[[
  End of DATA: writes an accepted message — its hash, its delivery units and (for a
  message of one chunk) its data. With ARGV[7] = 'pending' nothing is deliverable yet:
  mq-commit makes the units deliverable in one step once the write is durable (Redis
  WAIT), mq-cancel removes it, and a pending message its relay never decided on is
  committed by the reaper (store.ts). Without replicas to wait for, the units go straight
  to the ready (or, claimed, the active) set: the write is the commit, and after an error
  whose effect is unknown mq-cancel, sent after it on the same connection, finds out.
  The budget is checked again with the real size, and the reservation is released.

  Key count: variable (8 + one per delivery unit).
    KEYS[1] message hash
    KEYS[2] message data hash (chunk index -> bytes)
    KEYS[3] pending zset (message id -> written at, ms)
    KEYS[4] queued bytes of the shard (string counter)
    KEYS[5] reservations zset
    KEYS[6] reservation sizes hash
    KEYS[7] ready zset
    KEYS[8] active zset
    KEYS[9..] unit hashes, in unit order
  Input:
    ARGV[1] message id
    ARGV[2] now (ms)
    ARGV[3] budget in bytes (0: none)
    ARGV[4] message size in bytes
    ARGV[5] JSON object of the message hash's fields
    ARGV[6] the message's only chunk ('' when its chunks were written during DATA)
    ARGV[7] pending | ready | active: where the units go
    ARGV[8] score in ready (due) or active (lease expiry), ms
    ARGV[9..] JSON object of each unit hash's fields, in KEYS order

  Output:
    1 written, 0 over budget (nothing written, the data removed)
]]
local id, now, budget, size = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
redis.call('ZREM', KEYS[5], id)
redis.call('HDEL', KEYS[6], id)
if budget > 0 then
  local expired = redis.call('ZRANGEBYSCORE', KEYS[5], '-inf', now)
  for _, old in ipairs(expired) do redis.call('HDEL', KEYS[6], old) end
  if #expired > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', now) end
  local used = tonumber(redis.call('GET', KEYS[4]) or '0')
  for _, v in ipairs(redis.call('HVALS', KEYS[6])) do used = used + tonumber(v) end
  if used + size > budget then
    redis.call('UNLINK', KEYS[2])
    return 0
  end
end
local function hset(key, json)
  local fields = cjson.decode(json)
  local flat = {}
  for k, v in pairs(fields) do
    flat[#flat + 1] = k
    flat[#flat + 1] = tostring(v)
  end
  redis.call('HSET', key, unpack(flat))
end
hset(KEYS[1], ARGV[5])
redis.call('HSET', KEYS[1], 'bytes', size)
if ARGV[6] ~= '' then redis.call('HSET', KEYS[2], '0', ARGV[6]) end
redis.call('PERSIST', KEYS[2])
for i = 9, #KEYS do hset(KEYS[i], ARGV[i]) end
if ARGV[7] == 'pending' then
  redis.call('ZADD', KEYS[3], now, id)
else
  local target = KEYS[7]
  if ARGV[7] == 'active' then target = KEYS[8] end
  for i = 0, #KEYS - 9 do redis.call('ZADD', target, ARGV[8], id .. '.' .. i) end
end
redis.call('INCRBY', KEYS[4], size)
return 1
