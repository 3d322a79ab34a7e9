-- Room for one request? KEYS: requests hash, tokens hash, provider hold. ARGV: rpm (0: none), tpm (0: none).
-- Each hash counts per second (`window.lua`); the window is the last 60 seconds. Returns {1, 0} and counts
-- the request when there is room, else {0, ms until room may free up}.
local hold = redis.call('PTTL', KEYS[3])
if hold > 0 then return {0, hold} end
local function full(key, limit)
  if limit <= 0 then return nil end
  local n, oldest = outcomes(key, 60)
  if n >= limit then return math.max((oldest + 60) * 1000 - now, 1) end
  return nil
end
local rpm, tpm = tonumber(ARGV[1]), tonumber(ARGV[2])
local wait = full(KEYS[1], rpm) or full(KEYS[2], tpm)
if wait then return {0, wait} end
if rpm > 0 then count(KEYS[1], 1, 60) end
return {1, 0}
