"""The site contract in the repository (docs/SITES.md): the copy of ../shared/SITES.md that
the code, tests and sandbox cite by section."""

import re

import pytest

from crawlers.env import PROJECT_ROOT

DOC = PROJECT_ROOT / "docs" / "SITES.md"
SHARED = PROJECT_ROOT.parent / "shared" / "SITES.md"
CITATION = re.compile(r"SITES\.md[\"`]?(?: section)? (\d+)\b")


def test_docs_sites_is_the_shared_contract():
    if not SHARED.is_file():
        pytest.skip(f"{SHARED} absent (a clone without the shared folder)")
    assert DOC.read_bytes() == SHARED.read_bytes(), "copy ../shared/SITES.md to docs/SITES.md"


def cited_sections() -> dict[str, set[str]]:
    cited: dict[str, set[str]] = {}
    folders = ("crawlers", "sandbox", "tests", "bench")
    files = [
        PROJECT_ROOT / "README.md",
        *(p for f in folders for p in (PROJECT_ROOT / f).rglob("*.py")),
    ]
    for path in files:
        for number in CITATION.findall(path.read_text(encoding="utf-8")):
            cited.setdefault(number, set()).add(str(path.relative_to(PROJECT_ROOT)))
    return cited


def test_every_section_cited_is_in_the_contract():
    headings = set(re.findall(r"^## (\d+)\. ", DOC.read_text(encoding="utf-8"), re.MULTILINE))
    cited = cited_sections()
    assert cited, "no file cites SITES.md by section any more: drop this test"
    missing = {n: sorted(files) for n, files in cited.items() if n not in headings}
    assert not missing
