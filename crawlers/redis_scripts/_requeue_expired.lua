-- KEYS: meta queue requests prio leases owners; after _now. Puts back what expired leases held.
local expired = redis.call('ZRANGEBYSCORE', KEYS[5], '-inf', now, 'LIMIT', 0, 1000)
for _, id in ipairs(expired) do
  redis.call('ZREM', KEYS[5], id)
  redis.call('HDEL', KEYS[6], id)
  local score = redis.call('HGET', KEYS[4], id)
  if score then
    redis.call('ZADD', KEYS[2], score, id)
    redis.call('HINCRBY', KEYS[1], 'requeued', 1)
  end
end
