-- A failed request. KEYS: breaker hash, probe lease. ARGV: consecutive threshold (0: never trips),
-- cooldown ms, max cooldown ms, retry-after ms, probe (0/1), channel, target id, counts (0/1).
-- Returns {fleet consecutive failures, open for ms (-1: closed)}.
local u = tonumber(redis.call('HGET', KEYS[1], 'u') or '0')
if ARGV[8] ~= '1' then
  if ARGV[5] == '1' then redis.call('DEL', KEYS[2]) end
  if u > 0 and now < u then return {0, u - now} end
  return {0, -1}
end
local f = redis.call('HINCRBY', KEYS[1], 'f', 1)
redis.call('PEXPIRE', KEYS[1], 86400000)
local threshold = tonumber(ARGV[1])
local half_open = u > 0 and now >= u
if ARGV[5] == '1' or half_open or (u == 0 and threshold > 0 and f >= threshold) then
  local cooldown = math.max(tonumber(ARGV[2]), math.min(tonumber(ARGV[4]), tonumber(ARGV[3])))
  redis.call('HSET', KEYS[1], 'u', now + cooldown)
  redis.call('DEL', KEYS[2])
  redis.call('PUBLISH', ARGV[6], 'o ' .. cooldown .. ' ' .. ARGV[7])
  return {f, cooldown}
end
redis.call('PUBLISH', ARGV[6], 'f ' .. f .. ' ' .. ARGV[7])
if u > 0 then return {f, u - now} end
return {f, -1}
