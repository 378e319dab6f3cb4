-- KEYS[1]: the job's hash; ARGV: proxy id, now. A good answer clears a proxy not resting.
local v = redis.call('HGET', KEYS[1], ARGV[1])
if v then
  local u = tonumber(string.match(v, '%S+ %S+ (%S+)'))
  if u <= tonumber(ARGV[2]) then redis.call('HDEL', KEYS[1], ARGV[1]) end
end
return 1
