-- The fleet's breakers. KEYS: every target's breaker hash. Returns, per key, {consecutive failures,
-- open for ms (-1: closed, 0: half-open)}, flattened.
local out = {}
for _, k in ipairs(KEYS) do
  local v = redis.call('HMGET', k, 'f', 'u')
  local u = tonumber(v[2] or '0')
  local left = -1
  if u > 0 then left = math.max(0, u - now) end
  out[#out + 1] = tonumber(v[1] or '0')
  out[#out + 1] = left
end
return out
