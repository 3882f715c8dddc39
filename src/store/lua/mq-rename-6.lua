--[[
  Layout 2 → 3 of one queue shard: moves delivery units from the sets of layout 2
  (mq:ready|active|held) to the renamed sets of layout 3 (mq:due|lease|hold), with their
  scores, up to ARGV[1] per set per call. Units and messages stay where they are: the
  data of a layout-2 message (its `body` field) is read by this release as it is.

  Input:
    KEYS[1] layout-2 ready zset
    KEYS[2] layout-2 active zset
    KEYS[3] layout-2 held zset
    KEYS[4] ready (due) zset
    KEYS[5] active (lease) zset
    KEYS[6] held (hold) zset
    ARGV[1] most units to move per set

  Output:
    number of units moved
]]
local limit = tonumber(ARGV[1])
local moved = 0
for i = 1, 3 do
  local members = redis.call('ZRANGE', KEYS[i], 0, limit - 1, 'WITHSCORES')
  for j = 1, #members, 2 do
    redis.call('ZADD', KEYS[i + 3], members[j + 1], members[j])
    redis.call('ZREM', KEYS[i], members[j])
    moved = moved + 1
  end
end
return moved
