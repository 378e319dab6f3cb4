"""One module per imitated site; each defines `Site`, a subclass of sandbox.site.BaseSite."""

from __future__ import annotations

import importlib
import pkgutil


def available() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))


def site_class(name: str):
    if name not in available():
        raise ValueError(f"unknown sandbox site {name!r} (known: {', '.join(available())})")
    return importlib.import_module(f"{__name__}.{name}").Site
