-- KEYS[1]: the job's hash; ARGV: proxy id, now, threshold, rest base, rest max, key ttl.
-- A field holds "failures rests until"; no field means a healthy proxy.
local f, r, u = 0, 0, 0
local v = redis.call('HGET', KEYS[1], ARGV[1])
if v then
  local a, b, c = string.match(v, '(%S+) (%S+) (%S+)')
  f, r, u = tonumber(a), tonumber(b), tonumber(c)
end
local now = tonumber(ARGV[2])
local rest = 0
if u <= now then
  f = f + 1
  if f >= tonumber(ARGV[3]) or r > 0 then
    rest = math.min(tonumber(ARGV[5]), tonumber(ARGV[4]) * 2 ^ math.min(r, 40))
    u = now + rest
    r = r + 1
    f = 0
  end
  redis.call('HSET', KEYS[1], ARGV[1], string.format('%d %d %.3f', f, r, u))
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[6]))
end
return {f, r, string.format('%.3f', u), string.format('%.3f', rest)}
