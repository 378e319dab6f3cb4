-- KEYS: as _count. ARGV: run. Returns {pending, leased, nodes_starting, done}.
--#include _now
--#include _same_run
--#include _count
return {pending, leased, starting, redis.call('HEXISTS', KEYS[1], 'done')}
