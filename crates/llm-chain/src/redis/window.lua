-- (prepended to the scripts that count per second) counters kept as a hash per key, one field per unix
-- second: the breaker's failure-ratio window (successes, failures) and the rate budgets' last minute
-- (requests, tokens). `outcomes(key, window_s)` drops the seconds older than the window and returns the
-- sum of the rest and the oldest second kept; `count(key, n, window_s)` adds n to the current second.
local function outcomes(key, window_s)
  local all = redis.call('HGETALL', key)
  local total, oldest = 0, sec
  for i = 1, #all, 2 do
    local s, n = tonumber(all[i]), tonumber(all[i + 1])
    if s == nil or n == nil or s <= sec - window_s then
      redis.call('HDEL', key, all[i])
    else
      total = total + n
      if s < oldest then oldest = s end
    end
  end
  return total, oldest
end
local function count(key, n, window_s)
  redis.call('HINCRBY', key, sec, n)
  redis.call('EXPIRE', key, window_s + 1)
end
