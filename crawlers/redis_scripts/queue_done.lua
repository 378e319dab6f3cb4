-- KEYS: as _count. ARGV: run. Marks the run finished if, at this instant, no request is
-- pending or leased and no node is starting (so the next crawl of the job starts fresh).
-- Returns 1 if the run is (now) done, 0 if work appeared since the caller last looked.
--#include _now
--#include _same_run
--#include _count
if pending + leased + starting > 0 then return 0 end
redis.call('HSETNX', KEYS[1], 'done', now)
return 1
