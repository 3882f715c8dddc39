--[[
  Applies one batch of a delta (changed and deleted objects of one source) to an overlay
  snapshot. The effective state of the source is the base snapshot with the overlay on
  top: an overlay object "" is deleted, an overlay address "" is held by nobody, an
  overlay conflict "" is resolved. Every address an object had or has is re-decided:
  the candidates are its holder, the quarantined losers and the changed object, each
  kept only while its current version still claims the address; the lowest rank wins.

  Input:
    KEYS[1] base objects     KEYS[2] base addresses     KEYS[3] base conflicts
    KEYS[4] overlay objects  KEYS[5] overlay addresses  KEYS[6] overlay conflicts
    KEYS[7] overlay batches (batch id -> the reply it got: a resent batch changes nothing)
    ARGV[1] batch id
    ARGV[2..] per change: op ('U' upsert or 'D' delete), key, then for U: json, rank,
      address count n, n lower-cased addresses

  Output:
    { status, addressesAdded, addressesRemoved, {conflicted addresses} }
    status has one character per change: A added, C changed, U unchanged, R removed, N delete of an unknown object
]]
local bObj, bAddr, bConf, oObj, oAddr, oConf = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local batches, batchId = KEYS[7], ARGV[1]
local replay = redis.call('HGET', batches, batchId)
if replay then return cjson.decode(replay) end

local function effective(overlayKey, baseKey, field)
  local v = redis.call('HGET', overlayKey, field)
  if v then return v end
  return redis.call('HGET', baseKey, field) or ''
end

local decoded = {}
local function object(key)
  local json = effective(oObj, bObj, key)
  if json == '' then return nil end
  local o = decoded[json]
  if not o then
    o = cjson.decode(json)
    decoded[json] = o
  end
  return o
end

-- An object's addresses lower-cased as JavaScript does it: stored in "l" when they hold
-- letters string.lower (A-Z only) would not fold.
local function lowered(o)
  if o.l then return o.l end
  local out = {}
  for _, a in ipairs(o.a) do out[#out + 1] = string.lower(a) end
  return out
end

local function claims(key, address)
  local o = object(key)
  if not o then return false end
  for _, a in ipairs(lowered(o)) do
    if a == address then return true end
  end
  return false
end

local added, removed = 0, 0
local conflicted = {}

local function redecide(address)
  local holder = effective(oAddr, bAddr, address)
  local conf = effective(oConf, bConf, address)
  local candidates, seen = {}, {}
  local function consider(key)
    if key ~= '' and not seen[key] then
      seen[key] = true
      if claims(key, address) then candidates[#candidates + 1] = key end
    end
  end
  consider(holder)
  if conf ~= '' then for _, l in ipairs(cjson.decode(conf).l) do consider(l) end end
  return holder, candidates
end

local function settle(address, holder, candidates)
  table.sort(candidates, function(x, y) return object(x).r < object(y).r end)
  local winner = candidates[1] or ''
  if winner ~= holder then
    redis.call('HSET', oAddr, address, winner)
    if holder == '' then added = added + 1 elseif winner == '' then removed = removed + 1 end
  end
  if #candidates > 1 then
    local losers = {}
    for i = 2, #candidates do losers[#losers + 1] = candidates[i] end
    redis.call('HSET', oConf, address, cjson.encode({ w = winner, l = losers }))
    conflicted[#conflicted + 1] = address
  elseif effective(oConf, bConf, address) ~= '' then
    redis.call('HSET', oConf, address, '')
  end
end

local status = {}
local i = 2
while i <= #ARGV do
  local op, key = ARGV[i], ARGV[i + 1]
  local before = effective(oObj, bObj, key)
  local touched = {}
  if before ~= '' then
    for _, a in ipairs(lowered(cjson.decode(before))) do touched[a] = true end
  end
  if op == 'D' then
    i = i + 2
    if before == '' then
      status[#status + 1] = 'N'
    else
      status[#status + 1] = 'R'
      redis.call('HSET', oObj, key, '')
    end
  else
    local json, n = ARGV[i + 2], tonumber(ARGV[i + 4])
    for a = i + 5, i + 4 + n do touched[ARGV[a]] = true end
    i = i + 5 + n
    if before == json then
      status[#status + 1] = 'U'
      touched = {}
    else
      status[#status + 1] = (before == '') and 'A' or 'C'
      redis.call('HSET', oObj, key, json)
    end
  end
  for address in pairs(touched) do
    local holder, candidates = redecide(address)
    if op ~= 'D' then
      local present = false
      for _, c in ipairs(candidates) do if c == key then present = true end end
      if not present and claims(key, address) then candidates[#candidates + 1] = key end
    end
    settle(address, holder, candidates)
  end
end

local reply = { table.concat(status), added, removed, conflicted }
redis.call('HSET', batches, batchId, cjson.encode(reply))
return reply
