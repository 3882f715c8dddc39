--[[
  Resolves addresses in the published routing table in one round trip. A table
  version maps each source to its state: a full snapshot ("12"), or one with an overlay
  of deltas on top ("12+15"; an overlay address "" is held by nobody, an overlay object
  "" is deleted). When several sources hold an address, the lowest rank wins (SPEC §3.1).

  Input:
    KEYS[1] current version pointer
    ARGV[1] key prefix (the namespace hash tag, e.g. "{switchyard}")
    ARGV[2..] lower-cased addresses

  Output:
    { version or false, json1 or false, json2 or false, ... }
    version is false when no table has been published yet.
]]
local version = redis.call('GET', KEYS[1])
if not version then return { false } end
local prefix = ARGV[1]
local fields = redis.call('HGETALL', prefix .. ':table:v:' .. version)
local states = {}
for f = 1, #fields, 2 do
  if string.sub(fields[f], 1, 2) == 's:' then
    local base, overlay = string.match(fields[f + 1], '^([^+]+)%+?(.*)$')
    states[#states + 1] = {
      base = prefix .. ':snap:' .. base,
      overlay = overlay ~= '' and (prefix .. ':snap:' .. overlay) or nil,
    }
  end
end

-- The holder of an address in one source's state, and its current object: an overlay
-- entry for the address wins over the base's, and an overlay version of the object wins
-- over the base version (a changed object keeps the addresses it still claims).
local function resolve(state, address)
  local key = state.overlay and redis.call('HGET', state.overlay .. ':addr', address)
  if key == '' then return false end
  if not key then
    key = redis.call('HGET', state.base .. ':addr', address)
    if not key then return false end
  end
  if state.overlay then
    local json = redis.call('HGET', state.overlay .. ':obj', key)
    if json then return json ~= '' and json end
  end
  return redis.call('HGET', state.base .. ':obj', key)
end

local out = { version }
for a = 2, #ARGV do
  local best, bestRank = false, nil
  for _, state in ipairs(states) do
    local json = resolve(state, ARGV[a])
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
