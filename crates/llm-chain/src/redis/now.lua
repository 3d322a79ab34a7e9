-- (prepended to every script) the server's time in milliseconds and seconds: one clock for every process.
local tm = redis.call('TIME')
local sec = tonumber(tm[1])
local now = sec * 1000 + math.floor(tonumber(tm[2]) / 1000)
-- A value read from Redis as a number, `default` when it is missing or not a number: a field another
-- program wrote wrongly never breaks a script or shifts what it returns.
local function num(v, default)
  return tonumber(v) or default
end
