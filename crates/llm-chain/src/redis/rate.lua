-- Room for one request? KEYS: requests hash, tokens hash, provider hold. ARGV: rpm (0: none), tpm (0: none).
-- Each hash counts per second (field: unix second); the window is the last 60 seconds. Returns {1, 0} and
-- counts the request when there is room, else {0, ms until room may free up}.
local hold = redis.call('PTTL', KEYS[3])
if hold > 0 then return {0, hold} end
local function used(key)
  local all = redis.call('HGETALL', key)
  local total, oldest = 0, sec
  for i = 1, #all, 2 do
    local s = tonumber(all[i])
    if s <= sec - 60 then
      redis.call('HDEL', key, all[i])
    else
      total = total + tonumber(all[i + 1])
      if s < oldest then oldest = s end
    end
  end
  return total, (oldest + 60) * 1000 - now
end
local rpm, tpm = tonumber(ARGV[1]), tonumber(ARGV[2])
if rpm > 0 then
  local n, wait = used(KEYS[1])
  if n >= rpm then return {0, math.max(wait, 1)} end
end
if tpm > 0 then
  local n, wait = used(KEYS[2])
  if n >= tpm then return {0, math.max(wait, 1)} end
end
if rpm > 0 then
  redis.call('HINCRBY', KEYS[1], sec, 1)
  redis.call('PEXPIRE', KEYS[1], 61000)
end
return {1, 0}
