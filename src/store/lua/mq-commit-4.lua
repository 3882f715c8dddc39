--[[
  Makes a pending message deliverable: its units go to the ready set (due at ARGV[4]) or,
  claimed by the accepting relay, to the active set (lease expiry ARGV[4]). Idempotent: a
  message already committed answers 1 again, so a relay that lost the reply may ask twice.

  Input:
    KEYS[1] message hash
    KEYS[2] pending zset
    KEYS[3] ready zset
    KEYS[4] active zset
    ARGV[1] message id
    ARGV[2] number of units (ids <message id>.0 … .n-1)
    ARGV[3] ready | active
    ARGV[4] score (due time or lease expiry, ms)

  Output:
    1 committed (now or before), 0 the message is gone (cancelled or never written)
]]
local id, n, score = ARGV[1], tonumber(ARGV[2]), ARGV[4]
if redis.call('ZREM', KEYS[2], id) == 1 then
  local target = KEYS[3]
  if ARGV[3] == 'active' then target = KEYS[4] end
  for i = 0, n - 1 do redis.call('ZADD', target, score, id .. '.' .. i) end
  return 1
end
return redis.call('EXISTS', KEYS[1])
