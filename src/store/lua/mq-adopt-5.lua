--[[
  Layout migration: puts one delivery unit (and its message, if not there yet) copied
  from the single-tag queue of an earlier release into its shard. Idempotent: a unit
  already in the shard is left as it is (a re-run after an interrupted migration).

  Input:
    KEYS[1] ready zset of the shard
    KEYS[2] active zset of the shard
    KEYS[3] held zset of the shard
    KEYS[4] unit hash in the shard
    KEYS[5] message hash in the shard
    ARGV[1] unit id
    ARGV[2] set to put it in: ready | held
    ARGV[3] score (due time, or time held, ms)
    ARGV[4] DUMP of the old unit hash
    ARGV[5] DUMP of the old message hash ('' when it is gone)

  Output:
    1 when the unit was placed, 0 when it already was in the shard
]]
local uid = ARGV[1]
for i = 1, 3 do
  if redis.call('ZSCORE', KEYS[i], uid) then return 0 end
end
if redis.call('EXISTS', KEYS[4]) == 0 then redis.call('RESTORE', KEYS[4], 0, ARGV[4]) end
if ARGV[5] ~= '' and redis.call('EXISTS', KEYS[5]) == 0 then redis.call('RESTORE', KEYS[5], 0, ARGV[5]) end
if ARGV[2] == 'held' then
  redis.call('ZADD', KEYS[3], ARGV[3], uid)
else
  redis.call('ZADD', KEYS[1], ARGV[3], uid)
end
return 1
