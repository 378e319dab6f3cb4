-- KEYS: queue prio leases owners. ARGV: ids. Puts leased requests back at once.
for i = 1, #ARGV do
  if redis.call('ZREM', KEYS[3], ARGV[i]) == 1 then
    redis.call('HDEL', KEYS[4], ARGV[i])
    local score = redis.call('HGET', KEYS[2], ARGV[i])
    if score then redis.call('ZADD', KEYS[1], score, ARGV[i]) end
  end
end
return 1
