"""One thin spider per site: crawling only; parsing lives in crawlers.extraction."""
