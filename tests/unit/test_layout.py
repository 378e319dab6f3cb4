"""The arrangement of crawlers/: what each floor may import."""

from __future__ import annotations

import ast
from pathlib import Path

CRAWLERS = Path(__file__).resolve().parents[2] / "crawlers"


def imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
    return found


def test_spiders_import_no_pipeline_or_middleware():
    # What a spider shares with its pipelines and middlewares lives in a module both import;
    # a spider names its components by path (crawlers/components.py).
    spiders = sorted((CRAWLERS / "spiders").glob("*.py"))
    assert len(spiders) >= 5
    reaching = {
        f"{path.name}: {module}"
        for path in spiders
        for module in imported_modules(path)
        if module.startswith(("crawlers.pipelines", "crawlers.middlewares"))
    }
    assert reaching == set()


def test_imported_modules_sees_both_import_forms(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("import crawlers.pipelines.pdfs\nfrom crawlers.middlewares import retry\n")
    assert imported_modules(sample) == {"crawlers.pipelines.pdfs", "crawlers.middlewares"}


def sources() -> list[Path]:
    return sorted(CRAWLERS.rglob("*.py"))


def test_one_helper_for_first_lines_and_durations():
    # crawlers.errors.first_line and crawlers.progress_math.format_duration: a copy written
    # again elsewhere drifts (five first-line copies and three duration formats were found).
    copies = []
    for path in sources():
        text = path.read_text()
        name = path.relative_to(CRAWLERS).as_posix()
        if "splitlines()[0]" in text and name != "errors.py":
            copies.append(f"{name}: splitlines()[0]")
        for pattern in ("def _duration", "def format_duration", "def fmt_seconds"):
            if pattern in text and name != "progress_math.py":
                copies.append(f"{name}: {pattern}")
    assert copies == []
