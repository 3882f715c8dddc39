--[[
  Applies one batch of a delta (changed and deleted objects of one source) to an overlay
  snapshot. The effective state of the source is the base snapshot with the overlay on
  top: an overlay object "" is deleted, an overlay address "" is held by nobody, an
  overlay conflict "" is resolved. Every address an object had or has is re-decided:
  the candidates are its holder, the quarantined losers and the changed object, each
  kept only while its current version still claims the address; the lowest rank wins.
  Every hash is split in shards (src/store/shards.ts): a field with hint h lives in shard
  h % N of a snapshot of N shards; an object's ref "<hint>:<key>" carries its hint. The
  addresses a change touches (those its object had before, read by the client since the
  overlay is written by one client one batch at a time, and those it has now) come with
  their hints, so the script never hashes. The targetAddress index (src/store/targets.ts)
  is re-decided the same way for the targets a change touches (the one its object had
  before and the one it has now): candidates are the holder, the others listed under
  ">" .. target and the changed object, kept while they still have that target; the
  lowest rank holds it. A base of an earlier release has no index: its keys are empty.

  Key count: variable, 1 + 4NB + 4NO.

  Input:
    KEYS[1] overlay batches (batch id -> the reply it got: a resent batch changes nothing)
    KEYS[2 ..] the base's NB object shards, NB address shards, NB conflict shards, NB
            target shards, then the overlay's NO object, address, conflict and target shards
    ARGV[1] batch id
    ARGV[2] NB   ARGV[3] NO
    ARGV[4..] per change: op ('U' upsert or 'D' delete), ref, then for U: json, rank;
      then the object's lower-cased target now ('' for none), the count k of touched
      targets and k pairs (target hint, lower-cased target); then the count m of touched
      addresses and m pairs (address hint, lower-cased address)

  Output:
    { status, addressesAdded, addressesRemoved, {conflicted addresses} }
    status has one character per change: A added, C changed, U unchanged, R removed, N delete of an unknown object
]]
local batches, batchId = KEYS[1], ARGV[1]
local replay = redis.call('HGET', batches, batchId)
if replay then return cjson.decode(replay) end

local NB, NO = tonumber(ARGV[2]), tonumber(ARGV[3])
local bObj, bAddr, bConf, bTgt = 2, 2 + NB, 2 + 2 * NB, 2 + 3 * NB
local oObj, oAddr, oConf, oTgt = 2 + 4 * NB, 2 + 4 * NB + NO, 2 + 4 * NB + 2 * NO, 2 + 4 * NB + 3 * NO

local function refHint(ref)
  return tonumber(string.match(ref, '^(%d+):'))
end

-- The shard key of a hash (given by its first KEYS index and shard count) for a hint.
local function shard(first, n, hint)
  return KEYS[first + hint % n]
end

local function effective(overlay, base, hint, field)
  local v = redis.call('HGET', shard(overlay, NO, hint), field)
  if v then return v end
  return redis.call('HGET', shard(base, NB, hint), field) or ''
end

local decoded = {}
local function object(key)
  local json = effective(oObj, bObj, refHint(key), key)
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

local function redecide(hint, address)
  local holder = effective(oAddr, bAddr, hint, address)
  local conf = effective(oConf, bConf, hint, address)
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

local function settle(hint, address, holder, candidates)
  table.sort(candidates, function(x, y) return object(x).r < object(y).r end)
  local winner = candidates[1] or ''
  if winner ~= holder then
    redis.call('HSET', shard(oAddr, NO, hint), address, winner)
    if holder == '' then added = added + 1 elseif winner == '' then removed = removed + 1 end
  end
  if #candidates > 1 then
    local losers = {}
    for i = 2, #candidates do losers[#losers + 1] = candidates[i] end
    redis.call('HSET', shard(oConf, NO, hint), address, cjson.encode({ w = winner, l = losers }))
    conflicted[#conflicted + 1] = address
  elseif effective(oConf, bConf, hint, address) ~= '' then
    redis.call('HSET', shard(oConf, NO, hint), address, '')
  end
end

-- Whether an object other than the changed one still has `target`: Lua lowers A-Z only,
-- so a stored target with other bytes counts as still held (a change to that object
-- re-decides its own targets, with the exact form from the client).
local function hasTarget(key, target)
  local o = object(key)
  if not o or not o.t then return false end
  local t = string.lower(o.t)
  return t == target or string.find(t, '[\128-\255]') ~= nil
end

local function redecideTarget(hint, target, changed, changedTarget)
  local holder = effective(oTgt, bTgt, hint, target)
  local others = effective(oTgt, bTgt, hint, '>' .. target)
  local candidates, seen = {}, {}
  local function consider(key)
    if key == '' or seen[key] then return end
    seen[key] = true
    local has
    if key == changed then has = changedTarget == target else has = hasTarget(key, target) end
    if has then candidates[#candidates + 1] = key end
  end
  consider(holder)
  if others ~= '' then for _, k in ipairs(cjson.decode(others)) do consider(k) end end
  consider(changed)
  table.sort(candidates, function(x, y) return object(x).r < object(y).r end)
  local winner = candidates[1] or ''
  local tgtKey = shard(oTgt, NO, hint)
  if winner ~= holder then redis.call('HSET', tgtKey, target, winner) end
  if #candidates > 1 then
    local rest = {}
    for c = 2, #candidates do rest[#rest + 1] = candidates[c] end
    redis.call('HSET', tgtKey, '>' .. target, cjson.encode(rest))
  elseif others ~= '' then
    redis.call('HSET', tgtKey, '>' .. target, '')
  end
end

local status = {}
local i = 4
while i <= #ARGV do
  local op, key = ARGV[i], ARGV[i + 1]
  local keyHint = refHint(key)
  local before = effective(oObj, bObj, keyHint, key)
  local changed = true
  if op == 'D' then
    i = i + 2
    if before == '' then
      status[#status + 1] = 'N'
      changed = false
    else
      status[#status + 1] = 'R'
      redis.call('HSET', shard(oObj, NO, keyHint), key, '')
    end
  else
    local json = ARGV[i + 2]
    i = i + 4
    if before == json then
      status[#status + 1] = 'U'
      changed = false
    else
      status[#status + 1] = (before == '') and 'A' or 'C'
      redis.call('HSET', shard(oObj, NO, keyHint), key, json)
    end
  end
  local nowTarget, k = ARGV[i], tonumber(ARGV[i + 1])
  local firstTarget = i + 2
  i = i + 2 + 2 * k
  local m = tonumber(ARGV[i])
  local first = i + 1
  i = i + 1 + 2 * m
  if changed then
    for t = firstTarget, firstTarget + 2 * k - 1, 2 do
      redecideTarget(tonumber(ARGV[t]), ARGV[t + 1], key, nowTarget)
    end
    for a = first, first + 2 * m - 1, 2 do
      local hint, address = tonumber(ARGV[a]), ARGV[a + 1]
      local holder, candidates = redecide(hint, address)
      if op ~= 'D' then
        local present = false
        for _, c in ipairs(candidates) do if c == key then present = true end end
        if not present and claims(key, address) then candidates[#candidates + 1] = key end
      end
      settle(hint, address, holder, candidates)
    end
  end
end

local reply = { table.concat(status), added, removed, conflicted }
redis.call('HSET', batches, batchId, cjson.encode(reply))
return reply
