--[[
  Writes one batch of recipient objects into a staging snapshot, resolving address
  conflicts inside the snapshot by rank and classifying each object against the state it
  replaces (the source's currently published base snapshot, with its overlay on top),
  and indexing each object under its targetAddress (the lowest rank keeps a target several
  objects share; the others are listed under ">" .. target, for deltas to re-decide).
  Every hash is split in shards (src/store/shards.ts): a field with hint h lives in shard
  h % N of a snapshot of N shards; an object's ref "<hint>:<key>" carries its hint.
  Cost (B4, issue 15): the common path is one HSETNX per object, address and target, and
  one HGET of the object in the old state. An address of an object whose stored addresses
  are the ones it had in the old state is counted as kept without reading it there (a
  published state holds every address a live object of it claims); a rank is decoded from
  the object's JSON only when a conflict or a shared target needs it.

  Key count: variable, 1 + 4N + 2NB + 2NO.

  Classifying only (N = 0; B1 and B2, issue 15): the client has written the objects into the
  new snapshot itself, with plain HSETs, having proven every field of theirs new there
  (src/store/fresh-stage.ts). The script then writes nothing: it only classifies each object
  against the old state and counts its addresses as new or kept, as it does for an object
  whose fields all went in by HSETNX. No batch reply is kept (a resent batch reads the same).

  Input:
    KEYS[1] batches hash of the new snapshot (batch id -> the reply it got; unused at N = 0)
    KEYS[2 ..] the new snapshot's N object shards (ref -> object JSON, JSON has "r": rank),
            then its N address shards (lower-cased address -> ref), then its N conflict
            shards (lower-cased address -> {"w": winner ref, "l": [loser refs]}), then its
            N target shards (lower-cased target -> ref; ">" .. target -> [other refs])
    then the old base's NB object shards and NB address shards
    then the old overlay's NO object shards ("" marks a deleted object) and NO address
            shards ("" marks an address nobody holds)

    ARGV[1] batch id: a batch sent again (a reply lost to a Redis restart, then resent by
            the client) gets the reply of its first run and changes nothing
    ARGV[2] N (0: classify only)   ARGV[3] NB (0: no old state)   ARGV[4] NO (0: no old overlay)
    ARGV[5..] per object: ref, json, c = 2 x (address count) + (1 if it has a target),
            then, when c is odd, the target's hint and the lower-cased target, then the
            address pairs (address hint, lower-cased address)

  Output:
    { status, addressesNew, addressesKept, {conflicted addresses}, micros }
    status has one character per object: A added, C changed, U unchanged, D duplicate key;
    micros is how long the script ran (Redis's clock, µs): a paced staging charges itself
    Redis's own time rather than the round trip (src/pipeline/duty-cycle.ts). A replayed
    batch's reply has no micros. It is 0 where TIME does not advance within a script (Redis
    7.2 and later freeze it) and -1 where the server refuses TIME: the client then charges
    the round trip.
]]
-- TIME is not deterministic: writes after it need effects replication, the default since
-- Redis 5 and the only mode since 7 (a no-op there); where the call is gone, nothing is done
local replicateEffects = rawget(redis, 'replicate_commands')
if replicateEffects then replicateEffects() end
local function clock()
  local t = redis.pcall('TIME')
  if type(t) ~= 'table' or t.err or not t[2] then return nil end
  return t[1] * 1000000 + t[2]
end
local started = clock()
local N, NB, NO = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local classifyOnly = N == 0
local batches, batchId = KEYS[1], ARGV[1]
if not classifyOnly then
  local replay = redis.call('HGET', batches, batchId)
  if replay then return cjson.decode(replay) end
end

local newObj, newAddr, newConf, newTgt = 2, 2 + N, 2 + 2 * N, 2 + 3 * N
local oldObj, oldAddr = 2 + 4 * N, 2 + 4 * N + NB
local oldOObj, oldOAddr = 2 + 4 * N + 2 * NB, 2 + 4 * N + 2 * NB + NO
local hasOld = NB > 0

local function refHint(ref)
  return tonumber(string.match(ref, '^(%d+):'))
end

-- The published state this snapshot replaces: its base with its overlay (if any) on top.
local function oldValue(overlay, base, hint, field)
  if NO > 0 then
    local v = redis.call('HGET', KEYS[overlay + hint % NO], field)
    if v then return v ~= '' and v or false end
  end
  return redis.call('HGET', KEYS[base + hint % NB], field)
end

-- The "a" array of an object's JSON (its addresses as written) with the comma before it, or
-- nil when its addresses cannot be compared as text: no "a" array followed by "r" where the
-- encoder puts them, or lower-cased forms ("l", after "r") that Lua's string.lower would not
-- give. No JSON string holds ',"' unescaped, so these markers are found only where they are keys.
local function addressArray(json)
  local from = string.find(json, ',"a":[', 1, true)
  if not from then return nil end
  local to = string.find(json, '],"r":', from, true)
  if not to or string.find(json, ',"l":[', to, true) then return nil end
  return string.sub(json, from, to)
end

-- Whether the new object's addresses are the ones its old version had: the same JSON, or the
-- same "a" array (found in the old JSON, it can only be its "a" array; the old JSON then has
-- no "l" either, since "l" follows from "a").
local function sameAddresses(old, json)
  if old == json then return true end
  local a = addressArray(json)
  return a ~= nil and string.find(old, a, 1, true) ~= nil
end

local status = {}
local addrNew, addrKept = 0, 0
local conflicted = {}

local function rankOf(ref)
  local json = redis.call('HGET', KEYS[newObj + refHint(ref) % N], ref)
  if not json then return nil end
  return cjson.decode(json).r
end

local function recordConflict(confKey, address, winner, loser)
  local current = redis.call('HGET', confKey, address)
  local entry = current and cjson.decode(current) or { l = {} }
  entry.w = winner
  local losers = {}
  for _, l in ipairs(entry.l) do
    if l ~= winner and l ~= loser then losers[#losers + 1] = l end
  end
  losers[#losers + 1] = loser
  entry.l = losers
  redis.call('HSET', confKey, address, cjson.encode(entry))
  conflicted[#conflicted + 1] = address
end

-- Indexes `ref` (stored as `json`) under its target: the lowest rank holds it, the others are listed.
local function indexTarget(ref, json, thint, target)
  local tgtKey = KEYS[newTgt + thint % N]
  if redis.call('HSETNX', tgtKey, target, ref) == 1 then return end
  local holder = redis.call('HGET', tgtKey, target)
  local loser = ref
  if cjson.decode(json).r < (rankOf(holder) or '~') then
    redis.call('HSET', tgtKey, target, ref)
    loser = holder
  end
  local others = redis.call('HGET', tgtKey, '>' .. target)
  local list = others and cjson.decode(others) or {}
  list[#list + 1] = loser
  redis.call('HSET', tgtKey, '>' .. target, cjson.encode(list))
end

local i = 5
while i <= #ARGV do
  local ref, json, c = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])
  local thint, target
  i = i + 3
  if c % 2 == 1 then
    thint, target = tonumber(ARGV[i]), ARGV[i + 1]
    i = i + 2
  end
  local n = (c - c % 2) / 2
  local hint = refHint(ref)
  if not classifyOnly and redis.call('HSETNX', KEYS[newObj + hint % N], ref, json) == 0 then
    status[#status + 1] = 'D'
  else
    local rank -- decoded from the JSON when a conflict first needs it
    local kept = false
    if not hasOld then
      status[#status + 1] = 'A'
    else
      local old = oldValue(oldOObj, oldObj, hint, ref)
      if not old then status[#status + 1] = 'A'
      elseif old == json then status[#status + 1] = 'U'
      else status[#status + 1] = 'C' end
      kept = old and sameAddresses(old, json)
    end
    if target and not classifyOnly then indexTarget(ref, json, thint, target) end
    for a = i, i + 2 * n - 1, 2 do
      local ahint, address = tonumber(ARGV[a]), ARGV[a + 1]
      local addrKey = not classifyOnly and KEYS[newAddr + ahint % N]
      if classifyOnly or redis.call('HSETNX', addrKey, address, ref) == 1 then
        if kept or (hasOld and oldValue(oldOAddr, oldAddr, ahint, address)) then
          addrKept = addrKept + 1
        else
          addrNew = addrNew + 1
        end
      else
        local holder = redis.call('HGET', addrKey, address)
        if holder ~= ref then
          local confKey = KEYS[newConf + ahint % N]
          rank = rank or cjson.decode(json).r
          if rank < (rankOf(holder) or '~') then
            redis.call('HSET', addrKey, address, ref)
            recordConflict(confKey, address, ref, holder)
          else
            recordConflict(confKey, address, holder, ref)
          end
        end
      end
    end
  end
  i = i + 2 * n
end

local reply = { table.concat(status), addrNew, addrKept, conflicted }
if not classifyOnly then redis.call('HSET', batches, batchId, cjson.encode(reply)) end
local ended = clock()
reply[5] = (started and ended) and ended - started or -1
return reply
