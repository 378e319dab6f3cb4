-- KEYS[1] is meta, ARGV[1] the node's run token: -1 if the job's run is gone (Redis lost
-- it), -2 if another run replaced it (it had finished).
local run = redis.call('HGET', KEYS[1], 'run')
if run ~= ARGV[1] then
  if run then return -2 end
  return -1
end
