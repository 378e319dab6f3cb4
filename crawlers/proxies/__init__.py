"""Proxies: the list we read, the rule that tells a ban from a site error, shared health."""
