"""One Scrapy platform for hard, large crawls."""
