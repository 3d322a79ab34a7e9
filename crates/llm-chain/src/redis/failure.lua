-- A failed request. KEYS: breaker hash, probe lease, window successes, window failures. ARGV: consecutive
-- threshold (0: never trips), cooldown ms, max cooldown ms, retry-after ms, probe (0/1), channel, target id,
-- counts (0/1), failure ratio, minimum outcomes for the ratio, window seconds (0: no ratio rule), successes
-- the process counted since its last report.
-- The breaker opens on the fleet's consecutive failures or on the fleet's failure ratio over the window,
-- as one process's breaker would on its own.
-- Returns {fleet consecutive failures, open for ms (-1: closed)}.
local u = num(redis.call('HGET', KEYS[1], 'u'), 0)
local ratio, min_outcomes, window_s = tonumber(ARGV[9]), tonumber(ARGV[10]), tonumber(ARGV[11])
if window_s > 0 and tonumber(ARGV[12]) > 0 then count(KEYS[3], tonumber(ARGV[12]), window_s) end
if ARGV[8] ~= '1' then
  if ARGV[5] == '1' then redis.call('DEL', KEYS[2]) end
  if u > 0 and now < u then return {0, u - now} end
  return {0, -1}
end
-- A count that is not a number starts again from 0 rather than failing the script.
if num(redis.call('HGET', KEYS[1], 'f'), nil) == nil then redis.call('HSET', KEYS[1], 'f', 0) end
local f = redis.call('HINCRBY', KEYS[1], 'f', 1)
redis.call('PEXPIRE', KEYS[1], 86400000)
local threshold = tonumber(ARGV[1])
local ratio_trips = false
if window_s > 0 then
  count(KEYS[4], 1, window_s)
  local failed = outcomes(KEYS[4], window_s)
  local total = failed + outcomes(KEYS[3], window_s)
  ratio_trips = threshold > 0 and total >= min_outcomes and failed >= ratio * total
end
local half_open = u > 0 and now >= u
if ARGV[5] == '1' or half_open or (u == 0 and threshold > 0 and (f >= threshold or ratio_trips)) then
  local cooldown = math.max(tonumber(ARGV[2]), math.min(tonumber(ARGV[4]), tonumber(ARGV[3])))
  redis.call('HSET', KEYS[1], 'u', now + cooldown)
  redis.call('DEL', KEYS[2], KEYS[3], KEYS[4])
  redis.call('PUBLISH', ARGV[6], 'o ' .. cooldown .. ' ' .. ARGV[7])
  return {f, cooldown}
end
redis.call('PUBLISH', ARGV[6], 'f ' .. f .. ' ' .. ARGV[7])
if u > 0 then return {f, u - now} end
return {f, -1}
