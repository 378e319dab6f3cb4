-- KEYS: the run's hash, its claims hash, and the queue's requests, leases and owners.
-- ARGV: this node. Returns {count, addresses pending (see Standing), released}.
--#include _now
local waiting, released = 0, 0
local records = redis.call('HGETALL', KEYS[2])
for i = 1, #records, 2 do
  local page, record = records[i], records[i + 1]
  local addresses = {}
  for line in string.gmatch(record, '[^\n]+') do addresses[#addresses + 1] = line end
  local id, claimer = addresses[1], addresses[2]
  local expiry = redis.call('ZSCORE', KEYS[4], id)
  if expiry and tonumber(expiry) > now then
    -- Stored for sure only if this node claimed them and holds the page: a page of a node
    -- that died, taken again by this one, has not claimed them again yet.
    if claimer ~= ARGV[1] or redis.call('HGET', KEYS[5], id) ~= ARGV[1] then
      waiting = waiting + #addresses - 2
    end
  else
    if redis.call('HEXISTS', KEYS[3], id) == 1 then
      for j = 3, #addresses do
        if redis.call('HGET', KEYS[1], addresses[j]) == page then
          redis.call('HDEL', KEYS[1], addresses[j])
          released = released + 1
        end
      end
    end
    redis.call('HDEL', KEYS[2], page)
  end
end
return {redis.call('HLEN', KEYS[1]), waiting, released}
