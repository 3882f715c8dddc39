--[[
  Republishes an older kept table version as a new version (rollback). Versions only
  grow, so caches keyed by version never see an old number come back.

  Input:
    KEYS[1] current version pointer
    KEYS[2] version sequence
    KEYS[3] version history list (newest first)
    ARGV[1] key prefix (namespace hash tag)
    ARGV[2] version to restore ('' = the one before the current version)
    ARGV[3] versions to keep
    ARGV[4] meta JSON for the new version (its "rollbackOf" is filled in here)

  Output:
    { new version, restored version, dropped version... } or an error "SY_ROLLBACK ..."
]]
local prefix, target = ARGV[1], ARGV[2]
local keep = tonumber(ARGV[3])
local current = redis.call('GET', KEYS[1])
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

local fields = redis.call('HGETALL', prefix .. ':table:v:' .. target)
local copy = {}
for f = 1, #fields, 2 do
  if string.sub(fields[f], 1, 2) == 's:' then
    copy[#copy + 1] = fields[f]
    copy[#copy + 1] = fields[f + 1]
  end
end
local meta = cjson.decode(ARGV[4])
meta.rollbackOf = tonumber(target)
copy[#copy + 1] = 'meta'
copy[#copy + 1] = cjson.encode(meta)

local version = redis.call('INCR', KEYS[2])
redis.call('HSET', prefix .. ':table:v:' .. version, unpack(copy))
redis.call('SET', KEYS[1], version)
redis.call('LPUSH', KEYS[3], version)
local dropped = redis.call('LRANGE', KEYS[3], keep, -1)
redis.call('LTRIM', KEYS[3], 0, keep - 1)
for _, v in ipairs(dropped) do redis.call('UNLINK', prefix .. ':table:v:' .. v) end
local out = { version, tonumber(target) }
for _, v in ipairs(dropped) do out[#out + 1] = v end
return out
