"""Several nodes, one crawl: a shared Redis request queue with leases (see README, "Several
nodes, and scrapyd").

`queue.py` keeps the shared state (pending requests, leases, the job's fingerprints) in
Redis with atomic scripts; `scheduler.py` is the Scrapy scheduler over it, chosen by the
`REDIS_URL` setting; `connection.py` opens every Redis client of the project and turns an
unreachable server into a one-line error; `keys.py` names every Redis key.
"""
