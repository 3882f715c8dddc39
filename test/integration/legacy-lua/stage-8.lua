--[[
  Writes one batch of recipient objects into a staging snapshot, resolving address
  conflicts inside the snapshot by rank and classifying each object against the
  snapshot it replaces (the source's currently published one).

  Input:
    KEYS[1] new objects hash   (object key -> object JSON, JSON has "r": rank)
    KEYS[2] new addresses hash (lower-cased address -> object key)
    KEYS[3] new conflicts hash (lower-cased address -> {"w": winner key, "l": [loser keys]})
    KEYS[4] old objects hash   (may not exist)
    KEYS[5] old addresses hash (may not exist)
    KEYS[6] old overlay objects hash (may not exist; "" marks a deleted object)
    KEYS[7] old overlay addresses hash (may not exist; "" marks an address nobody holds)
    KEYS[8] batches hash of the new snapshot (batch id -> the reply it got)

    ARGV[1] batch id: a batch sent again (a reply lost to a Redis restart, then resent by
            the client) gets the reply of its first run and changes nothing
    ARGV[2] 1 when an old snapshot exists, else 0
    ARGV[3..] per object: key, json, rank, address count n, then n lower-cased addresses

  Output:
    { status, addressesNew, addressesKept, {conflicted addresses} }
    status has one character per object: A added, C changed, U unchanged, D duplicate key
]]
local newObj, newAddr, newConf, oldObj, oldAddr, oldOObj, oldOAddr = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]

-- The published state this snapshot replaces: its base with its overlay (if any) on top.
local function oldValue(overlayKey, baseKey, field)
  local v = redis.call('HGET', overlayKey, field)
  if v then return v ~= '' and v or false end
  return redis.call('HGET', baseKey, field)
end
local batches, batchId = KEYS[8], ARGV[1]
local replay = redis.call('HGET', batches, batchId)
if replay then return cjson.decode(replay) end
local hasOld = ARGV[2] == '1'
local status = {}
local addrNew, addrKept = 0, 0
local conflicted = {}

local function rankOf(objectKey)
  local json = redis.call('HGET', newObj, objectKey)
  if not json then return nil end
  return cjson.decode(json).r
end

local function recordConflict(address, winner, loser)
  local current = redis.call('HGET', newConf, address)
  local entry = current and cjson.decode(current) or { l = {} }
  entry.w = winner
  local losers = {}
  for _, l in ipairs(entry.l) do
    if l ~= winner and l ~= loser then losers[#losers + 1] = l end
  end
  losers[#losers + 1] = loser
  entry.l = losers
  redis.call('HSET', newConf, address, cjson.encode(entry))
  conflicted[#conflicted + 1] = address
end

local i = 3
while i <= #ARGV do
  local key, json, rank, n = ARGV[i], ARGV[i + 1], ARGV[i + 2], tonumber(ARGV[i + 3])
  i = i + 4
  if redis.call('HSETNX', newObj, key, json) == 0 then
    status[#status + 1] = 'D'
  else
    if not hasOld then
      status[#status + 1] = 'A'
    else
      local old = oldValue(oldOObj, oldObj, key)
      if not old then status[#status + 1] = 'A'
      elseif old == json then status[#status + 1] = 'U'
      else status[#status + 1] = 'C' end
    end
    for a = i, i + n - 1 do
      local address = ARGV[a]
      if redis.call('HSETNX', newAddr, address, key) == 1 then
        if hasOld and oldValue(oldOAddr, oldAddr, address) then
          addrKept = addrKept + 1
        else
          addrNew = addrNew + 1
        end
      else
        local holder = redis.call('HGET', newAddr, address)
        if holder ~= key then
          if rank < (rankOf(holder) or '~') then
            redis.call('HSET', newAddr, address, key)
            recordConflict(address, key, holder)
          else
            recordConflict(address, holder, key)
          end
        end
      end
    end
  end
  i = i + n
end

local reply = { table.concat(status), addrNew, addrKept, conflicted }
redis.call('HSET', batches, batchId, cjson.encode(reply))
return reply
