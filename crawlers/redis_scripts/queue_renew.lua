-- KEYS: meta leases nodes. ARGV: run, node, lease ms, ids...
--#include _now
--#include _same_run
local expiry = now + tonumber(ARGV[3])
redis.call('ZADD', KEYS[3], expiry, ARGV[2])
for i = 4, #ARGV do redis.call('ZADD', KEYS[2], 'XX', expiry, ARGV[i]) end
return 1
