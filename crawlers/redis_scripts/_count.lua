-- KEYS: meta queue requests prio leases owners nodes starting; after _now. Counts the live
-- nodes still in their start(), forgetting dead ones.
--#include _requeue_expired
local starting = 0
for _, node in ipairs(redis.call('SMEMBERS', KEYS[8])) do
  local alive = redis.call('ZSCORE', KEYS[7], node)
  if alive and tonumber(alive) > now then
    starting = starting + 1
  else
    redis.call('SREM', KEYS[8], node)
  end
end
local pending = redis.call('ZCARD', KEYS[2])
local leased = redis.call('ZCARD', KEYS[5])
