-- KEYS: in, found. ARGV: region, outcome, deals JSON, regions per origin, ttl seconds.
-- Returns {first} or, once the origin is complete, {first, region, deals, region, ...}.
local first = redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])
if first == 1 then
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
  redis.call('EXPIRE', KEYS[1], ARGV[5])
  redis.call('EXPIRE', KEYS[2], ARGV[5])
end
if redis.call('HLEN', KEYS[1]) < tonumber(ARGV[4]) then return {first} end
local result = redis.call('HGETALL', KEYS[2])
table.insert(result, 1, first)
return result
