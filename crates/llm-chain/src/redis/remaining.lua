-- The provider said only ARGV[3] requests / ARGV[4] tokens (-1: not said) are left. KEYS: requests hash,
-- tokens hash. ARGV: rpm (0: none), tpm (0: none). The difference between what the fleet's budget still
-- allows and what the provider allows is counted as used in the current second, so no process sends more.
local function lower(key, limit, left)
  if limit <= 0 or left < 0 then return end
  local all = redis.call('HGETALL', key)
  local used = 0
  for i = 1, #all, 2 do
    if tonumber(all[i]) > sec - 60 then used = used + tonumber(all[i + 1]) end
  end
  local ours = limit - used
  if left < ours then
    redis.call('HINCRBY', key, sec, ours - left)
    redis.call('PEXPIRE', key, 61000)
  end
end
lower(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[3]))
lower(KEYS[2], tonumber(ARGV[2]), tonumber(ARGV[4]))
return 1
