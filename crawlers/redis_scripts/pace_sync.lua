-- One node's look at a site's shared pace (crawlers/pace/table.py is the same rule in Python,
-- for a node without Redis; tests/integration/test_pace_table.py holds them to each other).
-- KEYS[1]: the site's hash. ARGV: node, in flight, want, good, bad, retry-after ms,
-- latency sum (s), latencies, tokens wanted, ceiling, rate ceiling, lease ms, horizon ms,
-- key ttl s, now ms (0: the Redis server's clock).
-- Returns {slots, limit, rate, until, now, first token, token interval, tokens, nodes}.
local key, node = KEYS[1], ARGV[1]
local in_flight, want = tonumber(ARGV[2]), tonumber(ARGV[3])
local good, bad, retry_after = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local lat_sum, lat_n, tokens = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
local ceiling, rate_ceiling = tonumber(ARGV[10]), tonumber(ARGV[11])
local lease, horizon, ttl = tonumber(ARGV[12]), tonumber(ARGV[13]), tonumber(ARGV[14])
local now = tonumber(ARGV[15])
if now == 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local s = {}
local raw = redis.call('HGETALL', key)
for i = 1, #raw, 2 do s[raw[i]] = raw[i + 1] end

local limit = math.min(tonumber(s['limit'] or ceiling), ceiling)
local rate = math.min(tonumber(s['rate'] or rate_ceiling), rate_ceiling)
if rate <= 0 then rate = rate_ceiling end
local streak = tonumber(s['good'] or 0) + good
local cut = tonumber(s['cut'] or 0)
local lat, base = tonumber(s['lat'] or 0), tonumber(s['base'] or 0)
local hold = tonumber(s['until'] or 0)

-- A 429 halves the pace once per second at most (the answers to requests sent before the
-- cut still come back as 429s); Retry-After holds every node off the site until it ends.
if retry_after > 0 then hold = math.max(hold, now + retry_after) end
if bad > 0 then
  streak = 0
  if cut == 0 or now - cut >= 1000 then
    limit = math.max(1, math.floor(limit / 2))
    rate = math.max(rate_ceiling / 64, rate / 2)
    cut = now
  end
elseif lat_n > 0 then
  local sample = lat_sum / lat_n
  if lat == 0 then lat = sample else lat = 0.8 * lat + 0.2 * sample end
  if base == 0 or lat < base then base = lat else base = base * 1.01 end
  -- Latency twice the site's best (and half a second over it, so that a fast site's jitter or
  -- our own busy event loop is not taken for it): the site queues our requests, fewer then.
  if lat > 2 * base and lat > base + 0.5 and (cut == 0 or now - cut >= 1000) then
    limit = math.max(1, limit * 0.75)
    rate = math.max(rate_ceiling / 64, rate * 0.75)
    cut = now
    streak = 0
  end
end
if streak >= math.max(1, math.floor(limit)) and now >= hold then
  streak = 0
  limit = math.min(ceiling, limit + 1)
  rate = math.min(rate_ceiling, rate * 1.25)
end

local others, wanting = 0, {}
for field, value in pairs(s) do
  if string.sub(field, 1, 2) == 'n:' then
    local h, e, w = string.match(value, '(%S+) (%S+) (%S+)')
    h, e, w = tonumber(h), tonumber(e), tonumber(w)
    if e <= now then
      redis.call('HDEL', key, field)
    elseif string.sub(field, 3) ~= node then
      others = others + h
      if w > 0 then wanting[#wanting + 1] = {h, w} end
    end
  end
end
local active = #wanting
if want > 0 then active = active + 1 end

local slots = 0
local whole = math.floor(limit)
if want > 0 and now >= hold then
  if ceiling <= 0 then
    slots = want
  else
    local fair = math.max(1, math.floor(whole / math.max(1, active)))
    slots = math.min(want, whole - others)
    for _, other in ipairs(wanting) do
      if other[2] > other[1] and other[1] < fair then
        slots = math.min(slots, fair)
        break
      end
    end
    slots = math.max(0, slots)
  end
end
local held = math.max(in_flight, slots)
if held > 0 or want > 0 then
  redis.call('HSET', key, 'n:' .. node, string.format('%d %d %d', held, now + lease, want))
else
  redis.call('HDEL', key, 'n:' .. node)
end

local first, interval, granted = 0, 0, 0
if rate > 0 and tokens > 0 and slots > 0 then
  interval = 1000 / rate
  first = math.max(tonumber(s['tat'] or 0), now)
  local share = math.max(1, math.ceil(rate * horizon / 1000 / math.max(1, active)))
  local room = math.floor((now + horizon - first) / interval) + 1
  granted = math.max(0, math.min(tokens, share, room))
  if granted > 0 then
    redis.call('HSET', key, 'tat', string.format('%.3f', first + granted * interval))
  end
end

redis.call('HSET', key, 'limit', string.format('%.4f', limit), 'rate', string.format('%.4f', rate),
  'good', streak, 'cut', cut, 'lat', string.format('%.4f', lat),
  'base', string.format('%.4f', base), 'until', hold)
redis.call('EXPIRE', key, ttl)
return {slots, whole, string.format('%.4f', rate), hold, now, string.format('%.3f', first),
  string.format('%.3f', interval), granted, active}
