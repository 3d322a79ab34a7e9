-- Successful requests. KEYS: breaker hash, probe lease, window successes. ARGV: channel, target id, probe
-- (0/1), how many successes (this report's and those the process counted since its last), window seconds
-- (0: no ratio rule), window only (1: successes counted earlier in process, which only feed the window: they say nothing about
-- a breaker that may have opened since).
-- A success while half-open (or the probe's) closes the breaker for the fleet; any success resets the
-- consecutive count and counts toward the failure-ratio window. Returns 1 when it closed the breaker.
if tonumber(ARGV[5]) > 0 then count(KEYS[3], tonumber(ARGV[4]), tonumber(ARGV[5])) end
if ARGV[6] == '1' then return 0 end
local u = num(redis.call('HGET', KEYS[1], 'u'), 0)
if u > 0 and (now >= u or ARGV[3] == '1') then
  redis.call('DEL', KEYS[1], KEYS[2])
  redis.call('PUBLISH', ARGV[1], 'c ' .. ARGV[2])
  return 1
end
if u == 0 then
  redis.call('DEL', KEYS[1])
else
  redis.call('HSET', KEYS[1], 'f', 0)
end
return 0
