-- KEYS: meta queue requests prio leases owners. ARGV: run, node, lease ms.
-- Returns {} (nothing pending) or {id, payload}.
--#include _now
--#include _same_run
--#include _requeue_expired
while true do
  local top = redis.call('ZRANGE', KEYS[2], 0, 0)
  if #top == 0 then return {} end
  local id = top[1]
  redis.call('ZREM', KEYS[2], id)
  local payload = redis.call('HGET', KEYS[3], id)
  if payload then
    redis.call('ZADD', KEYS[5], now + tonumber(ARGV[3]), id)
    redis.call('HSET', KEYS[6], id, ARGV[2])
    return {id, payload}
  end
end
