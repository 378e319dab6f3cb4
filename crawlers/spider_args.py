"""The spider a user named and the `-a` arguments given to it, checked before a crawl starts.

Each spider declares what it takes as a class attribute, one line of help an argument:

    arguments = {"target": "stop after N addresses (default: every address)"}

A misspelt spider or argument is an error with the closest name ("did you mean"); Scrapy would
raise a KeyError for the one and silently ignore the other. A declared argument given empty
(`-a origins=`) is an error too: it would quietly mean the default. Names starting with `_` are
the platform's own (scrapyd adds `_job`, `_version`) and always accepted. A spider without the
attribute is not checked.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping


def _closest(name: str, choices: Iterable[str]) -> str | None:
    found = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    if not found:
        found = difflib.get_close_matches(name.lower(), [c.lower() for c in choices], n=1)
    return found[0] if found else None


def spider_problem(name: str, known: Iterable[str]) -> str | None:
    """Why `name` names no spider of `known`, or None."""
    known = sorted(known)
    if name in known:
        return None
    close = _closest(name, known)
    if close:
        return f"no spider {name!r}; did you mean {close!r}?"
    return f"no spider {name!r} (spiders: {', '.join(known)})"


def declared(spidercls) -> Mapping[str, str] | None:
    """The spider's arguments and their help, or None when it declares none."""
    return getattr(spidercls, "arguments", None)


def argument_problem(spidercls, given: Mapping[str, str]) -> str | None:
    """The first unknown or empty argument among `given`, or None."""
    arguments = declared(spidercls)
    if arguments is None:
        return None
    spider = spidercls.name
    for name, value in given.items():
        if name.startswith("_"):
            continue
        if name not in arguments:
            close = _closest(name, arguments)
            if close:
                return f"{spider} takes no argument {name!r}; did you mean {close!r}?"
            takes = ", ".join(arguments) or "none"
            return f"{spider} takes no argument {name!r} (its arguments: {takes})"
        if not str(value).strip():
            return f"-a {name}= is empty: give a value, or leave it out for the default"
    return None


def describe(spidercls) -> str:
    """What `scrapy describe <spider>` and `scrapy crawl <spider> -h` show of its arguments."""
    arguments = declared(spidercls)
    head = f"Arguments of {spidercls.name} (-a NAME=VALUE)"
    if not arguments:
        return f"{head}: none"
    width = max(len(name) for name in arguments)
    lines = [f"{head}:"]
    lines += [f"  {name.ljust(width)}  {text}" for name, text in arguments.items()]
    return "\n".join(lines)
