"""The spider a crawl asks for is imported without the others; the list still has them all."""

from __future__ import annotations

import json
import subprocess
import sys

from crawlers.env import PROJECT_ROOT

SCRIPT = """
import json, sys
from scrapy.settings import Settings
from crawlers.spider_loader import LazySpiderLoader
settings = Settings({"SPIDER_MODULES": sys.argv[1].split(",")})
loader = LazySpiderLoader.from_settings(settings)
spider = loader.load(sys.argv[2])
imported = sorted(m for m in sys.modules if m.startswith(("crawlers.spiders.", "tests.spiders.")))
print(json.dumps({"spider": spider.name, "imported": imported, "all": sorted(loader.list())}))
"""


def load(modules: str, name: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-W", "error::UserWarning", "-c", SCRIPT, modules, name],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_only_the_spider_asked_for_is_imported_before_the_list():
    found = load("crawlers.spiders", "emails")
    assert found["spider"] == "emails"
    assert found["all"] == ["businesses", "deals", "emails", "vehicles"]


def test_a_spider_loads_without_the_other_spiders_modules():
    script = SCRIPT.replace('"all": sorted(loader.list())', '"all": []')
    out = subprocess.run(
        [sys.executable, "-c", script, "crawlers.spiders", "businesses"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["imported"] == ["crawlers.spiders.businesses"]


def test_a_spider_not_named_after_its_module_is_found_by_importing_all():
    found = load("tests.spiders.catalog_spider,crawlers.spiders", "catalog")
    assert found["spider"] == "catalog"
    assert "catalog" in found["all"] and "deals" in found["all"]
