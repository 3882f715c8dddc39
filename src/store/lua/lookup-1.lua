--[[
  Resolves addresses in the published routing table in one round trip. A table
  version maps each source to one of its snapshots; when several sources hold an
  address, the object with the lowest rank wins (SPEC §3.1).

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
local snaps = {}
for f = 1, #fields, 2 do
  local name = fields[f]
  if string.sub(name, 1, 2) == 's:' then snaps[#snaps + 1] = prefix .. ':snap:' .. fields[f + 1] end
end

local out = { version }
for a = 2, #ARGV do
  local best, bestRank = false, nil
  for _, snap in ipairs(snaps) do
    local key = redis.call('HGET', snap .. ':addr', ARGV[a])
    if key then
      local json = redis.call('HGET', snap .. ':obj', key)
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
  end
  out[#out + 1] = best
end
return out
