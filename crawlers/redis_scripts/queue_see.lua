-- KEYS: meta seen. ARGV: run, fingerprint. For requests kept on one node: 1 new, 0 seen.
--#include _same_run
local seen_key = KEYS[2]
--#include _seen_add
return new
