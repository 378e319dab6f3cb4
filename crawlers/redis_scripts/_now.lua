-- The Redis server's clock in ms, so nodes with skewed clocks agree on expiries.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
