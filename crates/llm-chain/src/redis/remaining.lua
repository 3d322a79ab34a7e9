-- The provider said only ARGV[3] requests / ARGV[4] tokens (-1: not said) are left. KEYS: requests hash,
-- tokens hash. ARGV: rpm (0: none), tpm (0: none). The difference between what the fleet's budget still
-- allows and what the provider allows is counted as used in the current second, so no process sends more.
local function lower(key, limit, left)
  if limit <= 0 or left < 0 then return end
  local ours = limit - outcomes(key, 60)
  if left < ours then count(key, ours - left, 60) end
end
lower(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[3]))
lower(KEYS[2], tonumber(ARGV[2]), tonumber(ARGV[4]))
return 1
