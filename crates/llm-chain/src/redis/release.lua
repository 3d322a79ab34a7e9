-- A probe ended without an outcome. KEYS: probe lease. ARGV: token. Only the holder's lease is removed.
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return now
