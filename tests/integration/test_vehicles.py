"""The vehicles spider against the sandbox's dealer portal, faults on."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest
from pypdf import PdfReader

from crawlers.env import PROJECT_ROOT
from crawlers.extraction.vehicles import is_safe_ref
from sandbox.crawl import crawl_command

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

FAST = {
    "CONCURRENT_REQUESTS": 7,
    "RETRY_BACKOFF_BASE": 0.1,
    "RETRY_BACKOFF_MAX": 2,
    "DOWNLOAD_TIMEOUT": 8,
    "PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT": 15000,
    "VEHICLES_PER_PAGE": 10,
    "LOG_LEVEL": "INFO",
}
FAULTS = {
    "fault_429": 0.04,
    "fault_5xx": 0.04,
    "fault_reset": 0.02,
    "fault_hang": 0.005,
    "hang_seconds": 10,
    "retry_after": 0.3,
    "latency_ms": 15,
    "pdf_truncated": 0.1,
    "pdf_html": 0.05,
    "pdf_swapped": 0.05,
    "session_requests": 35,
    "session_concurrency": 3,
    # A burst of sales and arrivals during the first walks (the spider walks again until
    # a walk finds nothing new; a portal that never stops changing is never finished).
    "churn_every": 2,
    "churn_max": 4,
    "hostile": 2,
}


def portal(sandbox_factory, size: int, **knobs):
    sb = sandbox_factory(["vehicles"], knobs={"vehicles": {"size": size, **knobs}})
    url = sb.url("vehicles")
    env = {
        "VEHICLES_BASE_URL": url,
        "VEHICLES_USERNAME": "dealer",
        "VEHICLES_PASSWORD": "letmein-42",
    }
    return sb, env


def run(crawl, env, store: Path, args=None, **settings):
    result = crawl(
        "vehicles",
        args=args,
        settings={**FAST, "FILES_STORE": str(store), **settings},
        env=env,
        timeout=600,
    )
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    return result


def pdf_text(path: Path) -> str:
    return "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(path.read_bytes())).pages)


def assert_store_clean(store: Path, root: Path) -> None:
    """Only `<safe ref>.pdf` in the store, no temporary files, nothing outside it."""
    for path in store.iterdir():
        assert path.suffix == ".pdf" and is_safe_ref(path.stem), path
    outside = [p for p in root.rglob("*.pdf") if p.parent != store]
    assert outside == []
    assert not list(root.rglob("passwd*"))


def assert_downloaded_right(items, truth_by_ref, store: Path) -> None:
    for item in items:
        if item["status"] not in ("downloaded", "skipped"):
            continue
        path = Path(item["pdf_path"])
        assert path == store / f"{item['ref']}.pdf"
        body = path.read_bytes()
        assert len(body) == item["pdf_size"]
        text = pdf_text(path)
        assert f"Ref: {item['ref']}\n" in text + "\n"
        assert truth_by_ref[item["ref"]]["vin"] in text
        assert item["vin"] == truth_by_ref[item["ref"]]["vin"]


def assert_logged_in_with(sb, variant: str) -> None:
    """The page's own script computed the challenge: no login was refused for it."""
    site = sb.stats("vehicles")
    assert site[f"login_page_{variant}"] >= 1 and site["login_ok"] >= 1
    assert "login_bad_challenge" not in site


def test_faults_expiry_and_churn_then_a_rerun_fetches_nothing_again(
    sandbox_factory, crawl, tmp_path
):
    sb, env = portal(sandbox_factory, 28, **FAULTS)
    store = tmp_path / "pdfs"

    first = run(crawl, env, store)
    assert first.returncode == 0, first.stderr[-3000:]
    truth = {v["ref"]: v for v in sb.truth("vehicles")["vehicles"]}
    refs = [i["ref"] for i in first.items]
    assert len(refs) == len(set(refs)), "one item per vehicle"
    assert set(refs) <= set(truth)
    by_ref = {i["ref"]: i for i in first.items}
    for ref, vehicle in truth.items():
        item = by_ref.get(ref)
        if vehicle["hostile"]:
            assert (item["status"], item["reason"]) == ("failed", "invalid_ref")
        elif vehicle["sold"]:
            # Sold before or after its turn: either its report, or a reason.
            assert item is None or item["status"] == "downloaded" or item["reason"] == "not_found"
        else:
            assert item is not None, f"vehicle {ref} was never reported"
            assert item["status"] == "downloaded", item
    assert_downloaded_right(first.items, truth, store)
    assert_store_clean(store, tmp_path)

    site = sb.stats("vehicles")
    stats = first.stats
    # The faults did happen, and were survived.
    assert site["session_expired"] >= 1 and site["pdf_truncated"] >= 1
    # The sandbox's seed puts a swapped, a truncated and an HTML report among the first
    # ten served, whatever the timing: the run serves more than ten.
    assert site["pdf_html"] >= 1 and site["pdf_swapped"] >= 1
    assert site["churn_added"] >= 1 and site["churn_sold"] >= 1
    assert stats["vehicles/report_link_refreshed"] >= 1
    # One login per lost session, however many requests noticed it.
    assert stats["vehicles/logins"] <= site["session_expired"] + 2
    assert stats["progress/total"] == len(first.items)
    done = stats.get("progress/done", 0)
    assert done == sum(i["status"] == "downloaded" for i in first.items)

    # Same store, the inventory now at rest: nothing already saved is fetched again.
    sb.set_knobs("vehicles", churn_every=0)
    truth = {v["ref"]: v for v in sb.truth("vehicles")["vehicles"]}
    listed = {r for r, v in truth.items() if not (v["sold"] or v["hostile"])}
    reports_before = site["pdf_ok"]
    second = run(crawl, env, store)
    assert second.returncode == 0, second.stderr[-3000:]
    downloaded_first = {i["ref"] for i in first.items if i["status"] == "downloaded"}
    again = Counter(i["status"] for i in second.items if i["ref"] in downloaded_first)
    assert again == Counter(skipped=len(downloaded_first & listed))
    new = {i["ref"] for i in second.items if i["status"] == "downloaded"}
    assert new.isdisjoint(downloaded_first)
    assert sb.stats("vehicles")["pdf_ok"] - reports_before == len(new)
    assert listed <= downloaded_first | new
    assert_downloaded_right(second.items, truth, store)
    assert_store_clean(store, tmp_path)


def test_limit_caps_downloads_and_the_next_run_finishes(sandbox_factory, crawl, tmp_path):
    sb, env = portal(sandbox_factory, 12, challenge="hash")
    store = tmp_path / "pdfs"
    capped = run(crawl, env, store, args={"limit": 5})
    assert capped.returncode == 0, capped.stderr[-3000:]
    assert Counter(i["status"] for i in capped.items) == Counter(downloaded=5)
    assert len(list(store.glob("*.pdf"))) == 5
    assert capped.stats["progress/total"] == 5
    assert capped.stats["vehicles/left_by_limit"] == 7

    rest = run(crawl, env, store)
    assert Counter(i["status"] for i in rest.items) == Counter(skipped=5, downloaded=7)
    assert_logged_in_with(sb, "hash")


def test_a_killed_run_leaves_only_whole_pdfs_and_the_next_one_completes(
    sandbox_factory, crawl, tmp_path
):
    sb, env = portal(sandbox_factory, 24, latency_ms=400, pdf_kb=200, challenge="seed")
    store = tmp_path / "pdfs"
    # Slow enough (about 2.5 vehicles/s) to be caught halfway.
    slow = {**FAST, "CONCURRENT_REQUESTS": 2, "FILES_STORE": str(store)}
    cmd = crawl_command("vehicles", settings=slow)
    proc = subprocess.Popen(
        cmd,
        cwd=PROJECT_ROOT,
        env={**os.environ, **env, "DATA_DIR": str(tmp_path / "data")},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 240
        while len(list(store.glob("*.pdf"))) < 5 and time.monotonic() < deadline:
            assert proc.poll() is None, "the crawl ended before it could be killed"
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)
    kept = {p.stem for p in store.glob("*.pdf")}
    assert 5 <= len(kept) < 24

    after = run(crawl, env, store)
    assert after.returncode == 0, after.stderr[-3000:]
    statuses = {i["ref"]: i["status"] for i in after.items}
    assert Counter(statuses.values()) == Counter(skipped=len(kept), downloaded=24 - len(kept))
    assert {r for r, s in statuses.items() if s == "skipped"} == kept
    truth = {v["ref"]: v for v in sb.truth("vehicles")["vehicles"]}
    assert_downloaded_right(after.items, truth, store)
    assert_store_clean(store, tmp_path)
    assert_logged_in_with(sb, "seed")


def test_wrong_password_stops_with_one_line(sandbox_factory, crawl, tmp_path):
    _, env = portal(sandbox_factory, 5)
    env["VEHICLES_PASSWORD"] = "not-the-password-123"
    result = run(crawl, env, tmp_path / "pdfs")
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: login refused by 127.0.0.1:")
    assert "Invalid username or password" in last and "VEHICLES_PASSWORD" in last
    assert "not-the-password-123" not in result.log
    assert result.items == []


@pytest.mark.parametrize(
    ("env", "args", "message"),
    [
        ({"VEHICLES_BASE_URL": ""}, None, "error: VEHICLES_BASE_URL is not set"),
        ({"VEHICLES_USERNAME": ""}, None, "error: VEHICLES_USERNAME is not set"),
        ({"VEHICLES_PASSWORD": ""}, None, "error: VEHICLES_PASSWORD is not set"),
        ({}, {"limit": "ten"}, "error: limit must be a whole number >= 0, got 'ten'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(crawl, tmp_path, env, args, message):
    full = {
        "VEHICLES_BASE_URL": "http://127.0.0.1:9",
        "VEHICLES_USERNAME": "dealer",
        "VEHICLES_PASSWORD": "secret-pw-77",
        **env,
    }
    result = run(crawl, full, tmp_path / "pdfs", args=args)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith(message)
    assert "secret-pw-77" not in result.log
