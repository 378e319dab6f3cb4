"""scrapy-playwright 0.0.48 internals (see crawlers/internals/__init__.py)."""

from __future__ import annotations


def open_contexts(engine, scheme: str) -> dict:
    """scrapy-playwright's open browser contexts for `scheme`, by name (each wrapper's
    `.context` is the Playwright BrowserContext); {} before its handler is loaded, or when
    the scheme is not served by scrapy-playwright. It has no public view of them."""
    downloader = getattr(engine, "downloader", None)
    handler = getattr(getattr(downloader, "handlers", None), "_handlers", {}).get(scheme)
    return getattr(handler, "context_wrappers", None) or {}
