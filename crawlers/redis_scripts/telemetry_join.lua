-- KEYS: current, the live set of the run the caller read as current (or of the proposed
-- run), the live set of the proposed run. ARGV: node, proposed run, now, silent_after, ttl,
-- the run the caller read ('' : none).
-- The current run while any of its nodes is running, else the proposed one; this node
-- counts as running in it at once, so a node starting a moment later joins it too.
-- Returns {1, run}, or {0, current} if current changed since the caller read it (the
-- caller names that run's live set and calls again: a script touches only its KEYS).
local run = redis.call('GET', KEYS[1]) or ''
if run ~= ARGV[6] then return {0, run} end
local live = KEYS[2]
if run ~= '' and redis.call('ZCOUNT', live, tonumber(ARGV[3]) - tonumber(ARGV[4]), '+inf') == 0 then
  run = ''
end
if run == '' then
  run = ARGV[2]
  live = KEYS[3]
end
redis.call('SET', KEYS[1], run, 'EX', ARGV[5])
redis.call('ZADD', live, ARGV[3], ARGV[1])
redis.call('EXPIRE', live, ARGV[5])
return {1, run}
