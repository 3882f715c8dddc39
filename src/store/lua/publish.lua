--[[
  Publishes a new table version atomically: the current version with one source's
  snapshot replaced (or removed). Refuses when the source's published snapshot is no
  longer the one the new snapshot was diffed against (another publish won the race).
  The client names every version hash this touches, from the pointer, sequence and
  history it read just before, and decides which versions retention drops (the last N,
  those younger than table.keepFor and each source's last full-sync version stay:
  src/store/retention.ts); versions never change once written and only these scripts
  move the sequence, so an unchanged sequence means that decision still holds. When any
  of them moved meanwhile, nothing is written and the reply "SY_RETRY" asks it to read
  them again.

  Key count: variable, 6 + the number of versions retention drops.

  Input:
    KEYS[1] current version pointer
    KEYS[2] version sequence
    KEYS[3] version history list (newest first)
    KEYS[4] hash of the current version (any unused version key when there is none)
    KEYS[5] hash of the new version (sequence + 1)
    KEYS[6] the table's epoch (set here when it has none: a first publish, or the first after
            the table was wiped; relays' cached layouts of a version hold it, lookup.lua)
    KEYS[7..] hashes of the versions retention drops (ARGV[9..], in the same order)
    ARGV[1] source name
    ARGV[2] new snapshot ref ('' removes the source)
    ARGV[3] expected currently published ref of the source ('' for none)
    ARGV[4] length of the history the client read
    ARGV[5] version meta JSON
    ARGV[6] current version the client read ('' for none)
    ARGV[7] version sequence the client read ('0' for none)
    ARGV[8] a fresh random token: the epoch, if the table has none
    ARGV[9..] the versions retention drops

  Output:
    { new version, dropped version... }, or an error "SY_STALE ..." or "SY_RETRY"
]]
local source, snap, expected = ARGV[1], ARGV[2], ARGV[3]
local current = redis.call('GET', KEYS[1])
if (current or '') ~= ARGV[6] or (redis.call('GET', KEYS[2]) or '0') ~= ARGV[7]
  or redis.call('LLEN', KEYS[3]) ~= tonumber(ARGV[4]) or #ARGV - 8 ~= #KEYS - 6 then
  return redis.error_reply('SY_RETRY the table moved while the publish was prepared')
end
local field = 's:' .. source
local fields = {}
if current then fields = redis.call('HGETALL', KEYS[4]) end

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
copy[#copy + 1] = ARGV[5]

local version = redis.call('INCR', KEYS[2])
redis.call('HSET', KEYS[5], unpack(copy))
redis.call('SET', KEYS[1], version)
redis.call('SET', KEYS[6], ARGV[8], 'NX')
redis.call('LPUSH', KEYS[3], version)
local out = { version }
for i = 9, #ARGV do
  redis.call('LREM', KEYS[3], 1, ARGV[i])
  redis.call('UNLINK', KEYS[i - 2])
  out[#out + 1] = ARGV[i]
end
return out
