-- KEYS: meta queue requests prio seen. ARGV: run, fingerprint ('' = never filtered), score,
-- payload. Returns 1 queued, 0 already seen. The fingerprint enters `seen` in the same
-- step that queues its request: a node dying in between cannot lose the request.
--#include _same_run
if ARGV[2] ~= '' then
  local seen_key = KEYS[5]
--#include _seen_add
  if new == 0 then return 0 end
end
local id = string.format('%015d', redis.call('HINCRBY', KEYS[1], 'seq', 1))
redis.call('HSET', KEYS[3], id, ARGV[4])
redis.call('HSET', KEYS[4], id, ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[3], id)
return 1
