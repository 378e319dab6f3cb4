-- KEYS: all of the queue's keys (QUEUE_NAMES). ARGV: node, new run token, lease ms, the
-- seen filter of a new run ('' : a set; "m k": a Bloom filter, see _seen_add).
-- Returns the run token in force (a run keeps the seen filter it started with).
--#include _now
local run = redis.call('HGET', KEYS[1], 'run')
if (not run) or redis.call('HEXISTS', KEYS[1], 'done') == 1 then
  for i = 1, #KEYS do redis.call('DEL', KEYS[i]) end
  run = ARGV[2]
  redis.call('HSET', KEYS[1], 'run', run, 'started_ms', now)
  if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'seen_filter', ARGV[4]) end
end
redis.call('ZADD', KEYS[8], now + tonumber(ARGV[3]), ARGV[1])
redis.call('SADD', KEYS[9], ARGV[1])
return run
