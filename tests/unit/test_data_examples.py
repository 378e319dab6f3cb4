"""The top-level data/ folder: examples a user copies, read by the project's own readers,
never loaded by themselves; what crawls write there stays out of git."""

import shutil
import subprocess

import pytest
from scrapy.settings import Settings

from crawlers.env import PROJECT_ROOT
from crawlers.ledger.regions import read_targets_file
from crawlers.middlewares.proxies import proxy_list_path
from crawlers.proxies.proxylist import load_proxies

DATA = PROJECT_ROOT / "data"


def test_the_example_proxy_list_is_one_the_project_reads():
    proxies = load_proxies(DATA / "proxies.example.txt")
    assert [(p.host, p.port, p.username) for p in proxies] == [
        ("203.0.113.7", 8080, ""),
        ("203.0.113.8", 8080, "user1"),
        ("198.51.100.9", 3128, "user2"),
    ]


def test_the_example_is_not_used_unless_copied(tmp_path):
    shutil.copy(DATA / "proxies.example.txt", tmp_path)
    assert proxy_list_path(Settings({"DATA_DIR": str(tmp_path)})) is None
    shutil.copy(DATA / "proxies.example.txt", tmp_path / "proxies.txt")
    assert proxy_list_path(Settings({"DATA_DIR": str(tmp_path)})) == tmp_path / "proxies.txt"


def test_the_example_targets_file_is_one_the_spider_reads():
    targets = read_targets_file(DATA / "targets.example.tsv")
    assert [(t.search_terms, t.city, t.state) for t in targets] == [
        ("plumbers", "Billings", "MT"),
        ("dentists", "Sacramento", "CA"),
        ("auto repair", "Austin", "TX"),
    ]


def test_outputs_are_ignored_and_the_examples_kept():
    if not (PROJECT_ROOT / ".git").exists() or not shutil.which("git"):
        pytest.skip("not a git clone")
    paths = [
        "data/proxies.txt",
        "data/out/emails-1.jsonl",
        "data/emails/unsaved-1.jsonl",
        "data/README.md",
        "data/proxies.example.txt",
        "data/targets.example.tsv",
    ]
    result = subprocess.run(
        ["git", "check-ignore", *paths], cwd=PROJECT_ROOT, capture_output=True, text=True
    )
    assert result.stdout.split() == paths[:3]
