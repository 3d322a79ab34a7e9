-- An answer used ARGV[1] tokens. KEYS: tokens hash (per second, `window.lua`).
count(KEYS[1], tonumber(ARGV[1]), 60)
return 1
