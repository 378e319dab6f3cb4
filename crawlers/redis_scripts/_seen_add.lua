-- After `local seen_key = KEYS[n]`; KEYS[1] is meta. Sets `new` to 1 if ARGV[2], a
-- fingerprint, was not seen in this run yet (it is now), else 0. A run opened with a seen
-- filter (meta field seen_filter "m k") keeps its fingerprints in a Bloom filter on the
-- bitmap seen_key (m bits, k of them per fingerprint, double hashing on its SHA1): a
-- fixed size however many, and now and then a new fingerprint taken for seen (a false
-- positive: that request is never queued). Otherwise a set: exact, ~100 bytes each.
local new
local filter = redis.call('HGET', KEYS[1], 'seen_filter')
if filter then
  local m, k = string.match(filter, '(%d+) (%d+)')
  m, k = tonumber(m), tonumber(k)
  local h = redis.sha1hex(ARGV[2])
  local h1, h2 = tonumber(string.sub(h, 1, 8), 16), tonumber(string.sub(h, 9, 16), 16)
  if h2 % m == 0 then h2 = 1 end
  new = 0
  for i = 0, k - 1 do
    if redis.call('SETBIT', seen_key, (h1 + i * h2) % m, 1) == 0 then new = 1 end
  end
else
  new = redis.call('SADD', seen_key, ARGV[2])
end
