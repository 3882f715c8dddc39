--[[
  Finds, in one published table version and one round trip, the object whose
  targetAddress each given address is (outbound sender rewriting, SPEC §5). First the
  target index of every source's state (src/store/targets.ts): its entry in the overlay
  wins over the base's ("" = held by nobody), the object is read as lookup.lua reads it,
  and the lowest rank over the sources wins (SPEC §3.1). When no index names one (a
  snapshot of an earlier release has no index), the object holding the address itself, if
  its own target is that address (what the releases before the index did). An object
  counts only while its stored target is the address: Lua lowers A-Z only, so a target
  with other bytes is passed on and the client compares it.
  Like lookup.lua, the client names every key from its cached layout of the version it
  expects; when the current version is another one nothing is read and it retries.

  Key count: variable, 2 + (sum over states of NB + NO) + (targets x states x (2 or 4)).

  Input:
    KEYS[1] current version pointer
    KEYS[2] the table's epoch (publish.lua): a table wiped and published again reuses version
            numbers with other layouts, and another epoch
    then per state s (in ARGV order): its base's NB object shards, its overlay's NO object shards
    then per target, per state: the base target shard of the target, (NO > 0) the overlay
            target shard, the base address shard of the target, (NO > 0) the overlay
            address shard
    ARGV[1] expected version and epoch, 'version/epoch' ('' when the client has no layout yet)
    ARGV[2] number of states S
    ARGV[3 .. 2+2S] per state: NB, NO (0: no overlay)
    ARGV[3+2S ..] lower-cased bare addresses

  Output:
    { version, json1 or false, json2 or false, ... }
    { false } when no table has been published yet
    { 'STALE', current version } when the current version is not the expected one
]]
local head = redis.call('MGET', KEYS[1], KEYS[2])
local version = head[1]
if not version then return { false } end
if version .. '/' .. (head[2] or '') ~= ARGV[1] then return { 'STALE', version } end

local S = tonumber(ARGV[2])
local states = {}
local k = 3
for s = 1, S do
  local nb, no = tonumber(ARGV[1 + 2 * s]), tonumber(ARGV[2 + 2 * s])
  states[s] = { nb = nb, no = no, ob = k, oo = k + nb }
  k = k + nb + no
end

-- The object a field of one state's hash pair (base, overlay) names, as lookup.lua reads it.
local function resolve(state, baseKey, overKey, field)
  local ref = overKey and redis.call('HGET', overKey, field)
  if ref == '' then return false end
  if not ref then
    ref = redis.call('HGET', baseKey, field)
    if not ref then return false end
  end
  local hint = tonumber(string.match(ref, '^(%d+):'))
  if state.no > 0 then
    local json = redis.call('HGET', KEYS[state.oo + hint % state.no], ref)
    if json then return json ~= '' and json end
  end
  return redis.call('HGET', KEYS[state.ob + hint % state.nb], ref)
end

-- The decoded object when its target is `address` (or cannot be compared here).
local function withTarget(json, address)
  if not json then return nil end
  local o = cjson.decode(json)
  if type(o.t) ~= 'string' then return nil end
  local t = string.lower(o.t)
  if t == address or string.find(t, '[\128-\255]') then return o end
  return nil
end

local out = { version }
for a = 3 + 2 * S, #ARGV do
  local address = ARGV[a]
  local byIndex, byAddress = {}, {}
  for _, state in ipairs(states) do
    local keys = {}
    for n = 1, (state.no > 0) and 4 or 2 do
      keys[n] = KEYS[k]
      k = k + 1
    end
    local tb, tover, ab, aover
    if state.no > 0 then tb, tover, ab, aover = keys[1], keys[2], keys[3], keys[4]
    else tb, ab = keys[1], keys[2] end
    local json = resolve(state, tb, tover, address)
    local o = withTarget(json, address)
    if o then byIndex[#byIndex + 1] = { json = json, r = o.r } end
    json = resolve(state, ab, aover, address)
    o = withTarget(json, address)
    if o then byAddress[#byAddress + 1] = { json = json, r = o.r } end
  end
  local found = #byIndex > 0 and byIndex or byAddress
  local best = false
  local bestRank
  for _, c in ipairs(found) do
    if not best or c.r < bestRank then best, bestRank = c.json, c.r end
  end
  out[#out + 1] = best
end
return out
