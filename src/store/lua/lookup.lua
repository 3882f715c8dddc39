--[[
  Resolves addresses in one published table version, in one round trip. A version maps
  each source to its state: a full snapshot, or one with an overlay of deltas on top (an
  overlay address "" is held by nobody, an overlay object "" is deleted). When several
  sources hold an address, the lowest rank wins (SPEC §3.1). The client computed every
  key from its cached layout of the version it expects; when the current version is
  another one, nothing is read and the client refreshes its layout and retries, so a
  lookup never mixes versions (SPEC §3.2).

  Key count: variable, 2 + (sum over states of NB + NO) + (addresses x states x (1 or 2)).

  Input:
    KEYS[1] current version pointer
    KEYS[2] the table's epoch (publish.lua): a table wiped and published again reuses version
            numbers with other layouts, and another epoch
    then per state s (in ARGV order): its base's NB object shards, its overlay's NO object shards
    then per address, per state: the base address shard of the address, and (NO > 0) the
            overlay address shard of the address
    ARGV[1] expected version and epoch, 'version/epoch' ('' when the client has no layout yet)
    ARGV[2] number of states S
    ARGV[3 .. 2+2S] per state: NB, NO (0: no overlay)
    ARGV[3+2S ..] lower-cased addresses

  Output:
    { version, json1 or false, json2 or false, ... }
    { false } when no table has been published yet
    { 'STALE', current version } when the current version is not the expected one
    An object is found from its ref "<hint>:<key>" in shard hint % N of a snapshot.
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

-- The holder of an address in one source's state, and its current object: an overlay
-- entry for the address wins over the base's, and an overlay version of the object wins
-- over the base version (a changed object keeps the addresses it still claims).
local function resolve(state, baseAddr, overAddr, address)
  local ref = overAddr and redis.call('HGET', overAddr, address)
  if ref == '' then return false end
  if not ref then
    ref = redis.call('HGET', baseAddr, address)
    if not ref then return false end
  end
  local hint = tonumber(string.match(ref, '^(%d+):'))
  if state.no > 0 then
    local json = redis.call('HGET', KEYS[state.oo + hint % state.no], ref)
    if json then return json ~= '' and json end
  end
  return redis.call('HGET', KEYS[state.ob + hint % state.nb], ref)
end

local out = { version }
for a = 3 + 2 * S, #ARGV do
  local best, bestRank = false, nil
  for _, state in ipairs(states) do
    local baseAddr = KEYS[k]
    local overAddr = nil
    k = k + 1
    if state.no > 0 then
      overAddr = KEYS[k]
      k = k + 1
    end
    local json = resolve(state, baseAddr, overAddr, ARGV[a])
    if json then
      if not best then
        best = json
      else
        bestRank = bestRank or cjson.decode(best).r
        local rank = cjson.decode(json).r
        if rank < bestRank then best, bestRank = json, rank end
      end
    end
  end
  out[#out + 1] = best
end
return out
