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


def setting_reads() -> list[tuple[str, str, bool]]:
    """(file, NAME, with a default) for every `<...>settings.get*("NAME"...)` in crawlers/."""
    reads = []
    getters = {"get", "getint", "getfloat", "getbool", "getlist", "getdict", "getwithbase"}
    for path in sources():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in getters
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
                and node.args[0].value.isupper()
            ):
                continue
            receiver = ast.unparse(node.func.value)
            if receiver in ("s", "settings") or receiver.endswith(".settings"):
                has_default = len(node.args) > 1 or bool(node.keywords)
                where = path.relative_to(CRAWLERS).as_posix()
                reads.append((where, node.args[0].value, has_default))
    return reads


# Read bare on purpose: unset is their meaning (scrapy-redis' names, a list that replaces
# another only where set).
UNSET_MEANS_NOT_GIVEN = {
    "REDIS_HOST",
    "REDIS_PORT",
    "REDIS_DB",
    "REDIS_PARAMS",
    "SCHEDULER_SERIALIZER",
    "PROXY_BAN_MARKERS",
}


def test_a_setting_read_without_a_default_has_one_in_settings_py():
    # settings.py is where a default lives: a name read bare must be there (or one of
    # Scrapy's), or the code silently gets None, 0 or False.
    from scrapy.settings import default_settings

    from crawlers import settings as project

    known = {n for n in dir(project) if n.isupper()} | {
        n for n in dir(default_settings) if n.isupper()
    }
    reads = setting_reads()
    assert len(reads) > 100
    missing = sorted(
        f"{name} ({where})"
        for where, name, has_default in reads
        if not has_default and name not in known and name not in UNSET_MEANS_NOT_GIVEN
    )
    assert missing == []
