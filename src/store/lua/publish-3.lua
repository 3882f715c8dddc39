--[[
  Publishes a new table version atomically: the current version with one source's
  snapshot replaced (or removed). Refuses when the source's published snapshot is no
  longer the one the new snapshot was diffed against (another publish won the race).

  Input:
    KEYS[1] current version pointer
    KEYS[2] version sequence
    KEYS[3] version history list (newest first)
    ARGV[1] key prefix (namespace hash tag)
    ARGV[2] source name
    ARGV[3] new snapshot id ('' removes the source)
    ARGV[4] expected currently published snapshot id of the source ('' for none)
    ARGV[5] versions to keep
    ARGV[6] version meta JSON

  Output:
    { new version, dropped version... } or an error "SY_STALE ..."
]]
local prefix, source, snap, expected = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local keep = tonumber(ARGV[5])
local field = 's:' .. source
local current = redis.call('GET', KEYS[1])
local fields = {}
if current then fields = redis.call('HGETALL', prefix .. ':table:v:' .. current) end

local published = ''
local copy = {}
for f = 1, #fields, 2 do
  if fields[f] == field then
    published = fields[f + 1]
  elseif string.sub(fields[f], 1, 2) == 's:' then
    copy[#copy + 1] = fields[f]
    copy[#copy + 1] = fields[f + 1]
  end
end
if published == snap and snap ~= '' then
  -- this publish already happened (its reply was lost and the command resent)
  return { tonumber(current) }
end
if published ~= expected then
  return redis.error_reply('SY_STALE source ' .. source .. ' is at snapshot ' .. published .. ', expected ' .. expected)
end
if snap ~= '' then
  copy[#copy + 1] = field
  copy[#copy + 1] = snap
end
copy[#copy + 1] = 'meta'
copy[#copy + 1] = ARGV[6]

local version = redis.call('INCR', KEYS[2])
redis.call('HSET', prefix .. ':table:v:' .. version, unpack(copy))
redis.call('SET', KEYS[1], version)
redis.call('LPUSH', KEYS[3], version)
local dropped = redis.call('LRANGE', KEYS[3], keep, -1)
redis.call('LTRIM', KEYS[3], 0, keep - 1)
for _, v in ipairs(dropped) do redis.call('UNLINK', prefix .. ':table:v:' .. v) end
local out = { version }
for _, v in ipairs(dropped) do out[#out + 1] = v end
return out
