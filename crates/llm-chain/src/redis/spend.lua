-- Dollar budgets. KEYS: the minute, hour and day spend hashes, one field per bucket (a second, a minute,
-- 24 minutes: 60 buckets a window), values in microdollars. ARGV[1]: 'reserve' or 'settle'; ARGV[2]: the
-- amount (for settle the correction, actual minus reserved, which may be negative); ARGV[3..5]: the limits
-- of the minute, hour and day (0: none). reserve returns {1, 0} and counts the amount in every limited
-- window when each has room for it, else {0, ms until the oldest bucket of a full window leaves}; settle
-- counts the correction in every limited window. A field that is not a number is dropped, never summed.
local spans = {60, 3600, 86400}
local widths = {1, 60, 1440}
local amount = tonumber(ARGV[2]) or 0
local function spent(i)
  local all = redis.call('HGETALL', KEYS[i])
  local bucket = math.floor(sec / widths[i])
  local keep = spans[i] / widths[i]
  local total, oldest = 0, bucket
  for j = 1, #all, 2 do
    local b, v = tonumber(all[j]), tonumber(all[j + 1])
    if b == nil or v == nil or b <= bucket - keep then
      redis.call('HDEL', KEYS[i], all[j])
    else
      total = total + v
      if b < oldest then oldest = b end
    end
  end
  return math.max(total, 0), (oldest + keep) * widths[i] * 1000 - now
end
local function add(i, n)
  redis.call('HINCRBY', KEYS[i], math.floor(sec / widths[i]), n)
  redis.call('EXPIRE', KEYS[i], spans[i] + widths[i])
end
local limits = {}
for i = 1, 3 do limits[i] = tonumber(ARGV[2 + i]) or 0 end
if ARGV[1] == 'reserve' then
  for i = 1, 3 do
    if limits[i] > 0 then
      local total, wait = spent(i)
      if total + amount > limits[i] then return {0, math.max(wait, 1)} end
    end
  end
end
for i = 1, 3 do
  if limits[i] > 0 and amount ~= 0 then add(i, amount) end
end
return {1, 0}
