-- The provider said it is out of budget for ARGV[1] ms. KEYS: provider hold. Only ever lengthened.
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], 1, 'PX', ARGV[1])
end
return 1
