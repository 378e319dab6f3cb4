"""python -m bench <name> [args...]: run bench/<name>.py's main(argv). No name: list them."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def available() -> list[str]:
    here = Path(__file__).parent
    return sorted(m.name for m in pkgutil.iter_modules([str(here)]) if not m.name.startswith("_"))


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in available():
        print("usage: python -m bench <name> [args...]; benchmarks: " + ", ".join(available()))
        return 0 if not argv else 2
    module = importlib.import_module(f"bench.{argv[0]}")
    return module.main(argv[1:]) or 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
