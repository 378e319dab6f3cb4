"""The project's Redis scripts, one `.lua` file each, read once per process.

A file whose name starts with `_` is a fragment: a line `--#include <name>` is replaced by
that fragment (the queue's scripts share the server clock, the run check, the requeue of
expired leases). Scripts are registered on a client (`register`): redis-py then sends each
by its SHA1 and loads it on the server only when the server does not know it yet.

The files are package data of the scrapyd egg (pyproject.toml), read through
importlib.resources so that a zipped egg works too.
"""

from __future__ import annotations

import functools
import re
from importlib import resources

_INCLUDE = re.compile(r"^--#include (\w+)$", re.MULTILINE)


@functools.cache
def source(name: str) -> str:
    """The Lua source of `name` (without `.lua`), fragments included."""
    text = resources.files(__package__).joinpath(f"{name}.lua").read_text(encoding="utf-8")
    return _INCLUDE.sub(lambda match: source(match.group(1)).rstrip("\n"), text)


def names() -> list[str]:
    """Every script (fragments left out)."""
    files = resources.files(__package__).iterdir()
    return sorted(
        f.name[:-4] for f in files if f.name.endswith(".lua") and not f.name.startswith("_")
    )


def script(client, name: str):
    """The script `name` registered on `client` (a redis.commands.core.Script)."""
    return client.register_script(source(name))


def register(client, *scripts: str) -> dict:
    """`{name: Script}` for each script, on `client`."""
    return {name: script(client, name) for name in scripts}
