-- The fleet's breakers, and what this process learned while Redis was away. KEYS: every target's breaker
-- hash. ARGV: the channel, then per key this process's own breaker: open for ms (-1: not open, or not
-- learned while Redis was away) and the target id. A breaker this process opened alone while Redis was
-- away, closed or half-open in the fleet, is opened for the fleet for what is left of its cooldown (and
-- published), so the others learn what it learned. Returns, per key, {consecutive failures, open for ms
-- (-1: closed, 0: half-open)}, one pair per key whatever the fields hold.
local out = {}
for i, k in ipairs(KEYS) do
  local v = redis.call('HMGET', k, 'f', 'u')
  local u = num(v[2], 0)
  local ours = num(ARGV[2 * i], -1)
  if ours > 0 and (u == 0 or u <= now) then
    u = now + ours
    redis.call('HSET', k, 'u', u)
    redis.call('PEXPIRE', k, 86400000)
    redis.call('PUBLISH', ARGV[1], 'o ' .. ours .. ' ' .. ARGV[2 * i + 1])
  end
  local left = -1
  if u > 0 then left = math.max(0, u - now) end
  out[#out + 1] = {num(v[1], 0), left}
end
return out
