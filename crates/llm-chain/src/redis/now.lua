-- (prepended to every script) the server's time in milliseconds and seconds: one clock for every process.
local tm = redis.call('TIME')
local sec = tonumber(tm[1])
local now = sec * 1000 + math.floor(tonumber(tm[2]) / 1000)
