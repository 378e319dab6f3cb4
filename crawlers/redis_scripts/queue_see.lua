-- KEYS: meta seen. ARGV: run, fingerprint. For requests kept on one node: 1 new, 0 seen.
--#include _same_run
return redis.call('SADD', KEYS[2], ARGV[2])
