"""A live view of every crawl, from the telemetry nodes publish: `scrapy dashboard`."""
