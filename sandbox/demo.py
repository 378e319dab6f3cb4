"""`make demo`: start the sandbox, crawl each site that has a spider, say what happened.

No Redis, no PostgreSQL: the embedded defaults. Outputs go under data/demo/.
"""

from __future__ import annotations

import shutil
import sys
import time

from crawlers.env import PROJECT_ROOT
from sandbox import Sandbox, sites
from sandbox.crawl import run_crawl

# The main job first.
ORDER = ["vehicles", "deals", "businesses", "emails"]


def main() -> int:
    names = [n for n in ORDER if n in sites.available()]
    names += [n for n in sites.available() if n not in names and n != "probe"]
    out = PROJECT_ROOT / "data" / "demo"
    shutil.rmtree(out, ignore_errors=True)
    failures = 0
    ran = 0
    with Sandbox(names) as sb:
        for name in names:
            recipe = sb.site(name).demo()
            if not recipe:
                continue
            ran += 1
            print(f"demo: {name}: crawling {sb.url(name)} ...", flush=True)
            started = time.monotonic()
            result = run_crawl(
                recipe["spider"],
                out / name,
                args=recipe.get("args"),
                settings=recipe.get("settings"),
                env=recipe.get("env"),
                timeout=recipe.get("timeout", 600),
            )
            took = time.monotonic() - started
            summary = recipe["check"](result) if "check" in recipe else f"{len(result.items)} items"
            state = "ok" if result.returncode == 0 else f"FAILED (exit {result.returncode})"
            print(f"demo: {name}: {state} in {took:.1f}s: {summary}", flush=True)
            if result.returncode != 0:
                failures += 1
                print(result.stderr[-2000:], file=sys.stderr)
    if not ran:
        print("demo: no site has a spider yet; the sandbox started and stopped cleanly")
    print(f"demo: outputs under {out}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
