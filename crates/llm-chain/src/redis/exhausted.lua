-- The provider said it is out of budget for ARGV[1] ms (at least 1: Redis takes no shorter expiry). KEYS:
-- provider hold. Only ever lengthened.
local hold = math.max(1, math.floor(num(ARGV[1], 1)))
if redis.call('PTTL', KEYS[1]) < hold then
  redis.call('SET', KEYS[1], 1, 'PX', hold)
end
return 1
