-- KEYS: the run's hash, its claims hash. ARGV: target (0: none), page, the page's request
-- id in the queue ('' : none, the claim is final at once), the claiming node, ttl,
-- addresses (distinct).
-- Returns {count, addresses new to this page}.
local target = tonumber(ARGV[1])
local page = ARGV[2]
local count = redis.call('HLEN', KEYS[1])
local new = {}
for i = 6, #ARGV do
  local owner = redis.call('HGET', KEYS[1], ARGV[i])
  if owner == page then
    new[#new + 1] = ARGV[i]
  elseif (not owner) and (target == 0 or count < target) then
    redis.call('HSET', KEYS[1], ARGV[i], page)
    count = count + 1
    new[#new + 1] = ARGV[i]
  end
end
if #new > 0 and ARGV[3] ~= '' then
  local record = ARGV[3] .. '\n' .. ARGV[4] .. '\n' .. table.concat(new, '\n')
  redis.call('HSET', KEYS[2], page, record)
  redis.call('EXPIRE', KEYS[2], ARGV[5])
end
-- Renewed by every claim, so a finished run's hash goes a while after its last one.
redis.call('EXPIRE', KEYS[1], ARGV[5])
return {count, new}
