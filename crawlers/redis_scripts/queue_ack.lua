-- KEYS: queue requests prio leases owners. ARGV: ids. Forgets handled requests (wherever
-- they are: a lease that expired meanwhile put its request back in the queue).
for i = 1, #ARGV do
  redis.call('ZREM', KEYS[4], ARGV[i])
  redis.call('ZREM', KEYS[1], ARGV[i])
  redis.call('HDEL', KEYS[5], ARGV[i])
  redis.call('HDEL', KEYS[2], ARGV[i])
  redis.call('HDEL', KEYS[3], ARGV[i])
end
return 1
