--[[
  Republishes an older kept table version as a new version (rollback). Versions only
  grow, so caches keyed by version never see an old number come back. The client names
  every version hash this touches, from the pointer, sequence and history it read just
  before; when any of them moved meanwhile, nothing is written and the reply "SY_RETRY"
  asks it to read them again.

  Key count: variable, 5 + the number of versions the history trim drops.

  Input:
    KEYS[1] current version pointer
    KEYS[2] version sequence
    KEYS[3] version history list (newest first)
    KEYS[4] hash of the version to restore (ARGV[1], or the second of the history)
    KEYS[5] hash of the new version (sequence + 1)
    KEYS[6..] hashes of the versions the trim drops (history from index keep - 1 on)
    ARGV[1] version to restore ('' = the one before the current version)
    ARGV[2] versions to keep
    ARGV[3] meta JSON for the new version (its "rollbackOf" is filled in here)
    ARGV[4] current version the client read ('' for none)
    ARGV[5] version sequence the client read ('0' for none)

  Output:
    { new version, restored version, dropped version... }, or an error "SY_ROLLBACK ..."
    or "SY_RETRY"
]]
local target = ARGV[1]
local keep = tonumber(ARGV[2])
local current = redis.call('GET', KEYS[1])
local dropping = redis.call('LRANGE', KEYS[3], keep - 1, -1)
if (current or '') ~= ARGV[4] or (redis.call('GET', KEYS[2]) or '0') ~= ARGV[5] or #dropping ~= #KEYS - 5 then
  return redis.error_reply('SY_RETRY the table moved while the rollback was prepared')
end
if not current then return redis.error_reply('SY_ROLLBACK no table has been published') end
local history = redis.call('LRANGE', KEYS[3], 0, -1)
if target == '' then
  target = history[2]
  if not target then return redis.error_reply('SY_ROLLBACK no earlier version is kept') end
else
  local kept = false
  for _, v in ipairs(history) do if v == target then kept = true end end
  if not kept then return redis.error_reply('SY_ROLLBACK version ' .. target .. ' is not kept (kept: ' .. table.concat(history, ', ') .. ')') end
  if target == current then return redis.error_reply('SY_ROLLBACK version ' .. target .. ' is already current') end
end

local fields = redis.call('HGETALL', KEYS[4])
local copy = {}
for f = 1, #fields, 2 do
  if string.sub(fields[f], 1, 2) == 's:' then
    copy[#copy + 1] = fields[f]
    copy[#copy + 1] = fields[f + 1]
  end
end
local meta = cjson.decode(ARGV[3])
meta.rollbackOf = tonumber(target)
copy[#copy + 1] = 'meta'
copy[#copy + 1] = cjson.encode(meta)

local version = redis.call('INCR', KEYS[2])
redis.call('HSET', KEYS[5], unpack(copy))
redis.call('SET', KEYS[1], version)
redis.call('LPUSH', KEYS[3], version)
redis.call('LTRIM', KEYS[3], 0, keep - 1)
local out = { version, tonumber(target) }
for i, v in ipairs(dropping) do
  redis.call('UNLINK', KEYS[5 + i])
  out[#out + 1] = v
end
return out
