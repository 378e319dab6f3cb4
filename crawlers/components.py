"""The one way a spider adds its own components (pipelines, middlewares, extensions) to the
project's: `register(settings, ITEM_PIPELINES={...})` from its `update_settings` classmethod.

Each dict is merged into what the project's settings already hold, so the spider's entries
add to the project's instead of replacing them, at "spider" priority, as Scrapy applies
`custom_settings`: a whole dict given with -s or by scrapyd still replaces it. An order the
project gives for the same component wins; None turns a component off. Plain values (a
concurrency, the download handlers a spider wants instead of the browser's) stay in
`custom_settings`.
"""

from __future__ import annotations

# The settings whose values are {component path: order}.
COMPONENT_SETTINGS = (
    "DOWNLOADER_MIDDLEWARES",
    "SPIDER_MIDDLEWARES",
    "ITEM_PIPELINES",
    "EXTENSIONS",
)


def register(settings, **components: dict[str, int | None]) -> None:
    for name, wanted in components.items():
        if name not in COMPONENT_SETTINGS:
            raise ValueError(
                f"{name} is not a components setting ({', '.join(COMPONENT_SETTINGS)})"
            )
        merged = settings.getdict(name)
        for path, order in wanted.items():
            merged.setdefault(path, order)
        settings.set(name, merged, priority="spider")
