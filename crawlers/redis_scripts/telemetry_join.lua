-- KEYS: current, PREFIX:JOB. ARGV: node, proposed run, now, silent_after, ttl.
-- The current run while any of its nodes is running, else the proposed one; this node
-- counts as running in it at once, so a node starting a moment later joins it too.
local run = redis.call('GET', KEYS[1])
if run then
  local live = KEYS[2] .. ':run:' .. run .. ':live'
  if redis.call('ZCOUNT', live, tonumber(ARGV[3]) - tonumber(ARGV[4]), '+inf') == 0 then
    run = false
  end
end
if not run then run = ARGV[2] end
redis.call('SET', KEYS[1], run, 'EX', ARGV[5])
local live = KEYS[2] .. ':run:' .. run .. ':live'
redis.call('ZADD', live, ARGV[3], ARGV[1])
redis.call('EXPIRE', live, ARGV[5])
return run
