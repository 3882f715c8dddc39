--[[
  Republishes an older state as a new version (rollback): the whole table of a kept
  version, or (ARGV[2] set) one source's state from it with every other source kept as
  it is now. Versions only grow, so caches keyed by version never see an old number come
  back. Each source whose state changes is pinned (its scheduled syncs pause until
  `switchyard resume`) and its delta watermark is dropped, so no delta builds on a table
  that no longer matches it. Refused when a required source (configured, with a state
  now) would be left without one. The client names every version hash this touches, from
  the pointer, sequence and history it read just before, and decides which versions
  retention drops (src/store/retention.ts); when any of them moved meanwhile, nothing is
  written and the reply "SY_RETRY" asks it to read them again.

  Key count: variable, 8 + the number of versions retention drops.

  Input:
    KEYS[1] current version pointer
    KEYS[2] version sequence
    KEYS[3] version history list (newest first)
    KEYS[4] hash of the version to restore (ARGV[1])
    KEYS[5] hash of the new version (sequence + 1)
    KEYS[6] hash of the current version
    KEYS[7] pins hash (source -> {"version", "since", "tableVersion"})
    KEYS[8] sync state hash (source -> delta watermark)
    KEYS[9..] hashes of the versions retention drops (ARGV[9..], in the same order)
    ARGV[1] version to restore
    ARGV[2] source to restore ('' = the whole table)
    ARGV[3] meta JSON for the new version (its "rollbackOf" is filled in here)
    ARGV[4] current version the client read
    ARGV[5] version sequence the client read
    ARGV[6] length of the history the client read
    ARGV[7] when the pins start (ISO time)
    ARGV[8] JSON array of the sources that must keep a state
    ARGV[9..] the versions retention drops

  Output:
    { new version, restored version, {pinned sources}, dropped version... }, or an error
    "SY_ROLLBACK ..." or "SY_RETRY"
]]
local target, only = ARGV[1], ARGV[2]
local current = redis.call('GET', KEYS[1])
if (current or '') ~= ARGV[4] or (redis.call('GET', KEYS[2]) or '0') ~= ARGV[5]
  or redis.call('LLEN', KEYS[3]) ~= tonumber(ARGV[6]) or #ARGV - 8 ~= #KEYS - 8 then
  return redis.error_reply('SY_RETRY the table moved while the rollback was prepared')
end
if not current then return redis.error_reply('SY_ROLLBACK no table has been published') end
if not redis.call('LPOS', KEYS[3], target) then
  local history = redis.call('LRANGE', KEYS[3], 0, 19)
  return redis.error_reply('SY_ROLLBACK version ' .. target .. ' is not kept (kept: ' .. table.concat(history, ', ') .. ')')
end
if target == current and only == '' then
  return redis.error_reply('SY_ROLLBACK version ' .. target .. ' is already current')
end

local function states(key)
  local fields = redis.call('HGETALL', key)
  local out = {}
  for f = 1, #fields, 2 do
    if string.sub(fields[f], 1, 2) == 's:' then out[string.sub(fields[f], 3)] = fields[f + 1] end
  end
  return out
end
local now, from = states(KEYS[6]), states(KEYS[4])
local new = {}
if only == '' then
  new = from
else
  if not from[only] then
    return redis.error_reply('SY_ROLLBACK source ' .. only .. ' has no snapshot in version ' .. target)
  end
  for s, v in pairs(now) do new[s] = v end
  new[only] = from[only]
end
for _, s in ipairs(cjson.decode(ARGV[8])) do
  if not new[s] then
    return redis.error_reply('SY_ROLLBACK refused: source ' .. s .. ' has no snapshot in version ' .. target ..
      ' (it would be left with none; roll back that source alone with --source)')
  end
end
local changed = {}
for s, v in pairs(new) do if now[s] ~= v then changed[#changed + 1] = s end end
local removed = false
for s in pairs(now) do if not new[s] then removed = true end end
if #changed == 0 and not removed then
  return redis.error_reply('SY_ROLLBACK nothing to change: version ' .. target .. ' has the same state' ..
    (only ~= '' and (' of source ' .. only) or ''))
end
table.sort(changed)

local copy = {}
for s, v in pairs(new) do
  copy[#copy + 1] = 's:' .. s
  copy[#copy + 1] = v
end
local meta = cjson.decode(ARGV[3])
meta.rollbackOf = tonumber(target)
copy[#copy + 1] = 'meta'
copy[#copy + 1] = cjson.encode(meta)

local version = redis.call('INCR', KEYS[2])
redis.call('HSET', KEYS[5], unpack(copy))
redis.call('SET', KEYS[1], version)
redis.call('LPUSH', KEYS[3], version)
for _, s in ipairs(changed) do
  redis.call('HSET', KEYS[7], s, cjson.encode({ version = tonumber(target), since = ARGV[7], tableVersion = version }))
  redis.call('HDEL', KEYS[8], s)
end
local out = { version, tonumber(target), changed }
for i = 9, #ARGV do
  redis.call('LREM', KEYS[3], 1, ARGV[i])
  redis.call('UNLINK', KEYS[i])
  out[#out + 1] = ARGV[i]
end
return out
