-- This process wants to send the half-open probe. KEYS: breaker hash, probe lease. ARGV: lease ms, token.
-- Returns {0, 0} closed, {1, ms} still open, {2, 0} granted, {3, ms} another process holds the lease.
local u = num(redis.call('HGET', KEYS[1], 'u'), 0)
if u == 0 then return {0, 0} end
if now < u then return {1, u - now} end
if redis.call('SET', KEYS[2], ARGV[2], 'NX', 'PX', ARGV[1]) then return {2, 0} end
return {3, redis.call('PTTL', KEYS[2])}
