--[[
  trace-write.lua: one flush of message-trace events for one queue shard (src/trace/writer.ts),
  in one call instead of a command per list and index key.

  Key count: variable. KEYS[1..T] are timelines (lists of event JSON), KEYS[T+1..] index zsets
  (trace id by time); all under the same queue shard tag.
  ARGV[1] TTL in ms; ARGV[2] most events kept per timeline; ARGV[3] most ids kept per index key;
  ARGV[4] oldest score an index keeps (now - retention); ARGV[5] T; then for each timeline
  its event count n and n events; then for each index key a trim flag (1: drop what is past the
  retention and the cap now; the writer asks for it on a sample of writes), its count n and n
  (score, member) pairs.
  Returns the number of events written.
]]
local ttl = ARGV[1]
local maxEvents = tonumber(ARGV[2])
local maxIndex = tonumber(ARGV[3])
local floor = ARGV[4]
local t = tonumber(ARGV[5])
local a = 6
local written = 0
local CHUNK = 200

for k = 1, t do
  local n = tonumber(ARGV[a])
  a = a + 1
  local len = 0
  for i = 0, n - 1, CHUNK do
    local last = math.min(n - 1, i + CHUNK - 1)
    len = redis.call('RPUSH', KEYS[k], unpack(ARGV, a + i, a + last))
  end
  a = a + n
  written = written + n
  if len > maxEvents then redis.call('LTRIM', KEYS[k], -maxEvents, -1) end
  redis.call('PEXPIRE', KEYS[k], ttl)
end

for k = t + 1, #KEYS do
  local trim = ARGV[a] == '1'
  local n = tonumber(ARGV[a + 1])
  a = a + 2
  for i = 0, n - 1, CHUNK do
    local last = math.min(n - 1, i + CHUNK - 1)
    redis.call('ZADD', KEYS[k], unpack(ARGV, a + 2 * i, a + 2 * last + 1))
  end
  a = a + 2 * n
  if trim then
    redis.call('ZREMRANGEBYSCORE', KEYS[k], '-inf', '(' .. floor)
    if redis.call('ZCARD', KEYS[k]) > maxIndex then redis.call('ZREMRANGEBYRANK', KEYS[k], 0, -maxIndex - 1) end
  end
  redis.call('PEXPIRE', KEYS[k], ttl)
end

return written
