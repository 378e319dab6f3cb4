"""A per-site pace shared by every node of a job (CLUSTER_SITE_CONCURRENCY, CLUSTER_SITE_RATE).

table.py: the rule and the in-memory table of a node without Redis; shared.py: the table in
Redis; node.py: what the downloader asks before each request; progress.py: the pace in
the progress line.
"""
