-- (prepended to the failure and success scripts) the breaker's failure-ratio window, fleet-wide: two
-- hashes counting successes and failures per second (field: unix second). `outcomes(key, window_s)` drops
-- the seconds older than the window and sums the rest.
local function outcomes(key, window_s)
  local all = redis.call('HGETALL', key)
  local total = 0
  for i = 1, #all, 2 do
    if tonumber(all[i]) <= sec - window_s then
      redis.call('HDEL', key, all[i])
    else
      total = total + tonumber(all[i + 1])
    end
  end
  return total
end
local function count(key, n, window_s)
  redis.call('HINCRBY', key, sec, n)
  redis.call('EXPIRE', key, window_s + 1)
end
