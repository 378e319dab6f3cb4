"""What only the deals spider uses: the `tfs` query codec, the origins and regions a crawl
covers, the ranking of an origin's deals and the state it is ranked from, and the capacity
plan and report. The spider (crawlers/spiders/deals.py) keeps the crawling."""
