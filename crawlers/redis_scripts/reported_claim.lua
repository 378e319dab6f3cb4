-- KEYS[1] the run's hash; ARGV: unit, owner, ttl. 1 when this owner is to report the unit.
local current = redis.call('HGET', KEYS[1], ARGV[1])
if not current then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  current = ARGV[2]
end
redis.call('EXPIRE', KEYS[1], ARGV[3])
if current == ARGV[2] then return 1 end
return 0
