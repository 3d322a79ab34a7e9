-- An answer used ARGV[1] tokens. KEYS: tokens hash.
redis.call('HINCRBY', KEYS[1], sec, tonumber(ARGV[1]))
redis.call('PEXPIRE', KEYS[1], 61000)
return 1
