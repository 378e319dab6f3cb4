"""What only the emails spider uses beyond extraction: the crawl's distinct addresses
(crawlers/emails/addresses.py), shared by the spider and, on a cluster, every node."""
