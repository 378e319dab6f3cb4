"""The target ledger's contract, on the embedded store and on PostgreSQL alike."""

import os
import subprocess
import sys
import threading
import time

import pytest
from scrapy.settings import Settings

from crawlers.env import PROJECT_ROOT
from crawlers.ledger import DONE, FAILED, IN_PROGRESS, PLANNED, Target, ledger_exists, open_ledger
from crawlers.ledger.sqlite import SqliteLedger


def make_targets(n=10, state="DE"):
    return [Target(state, f"City{i}", "plumbers", priority=1000 - i) for i in range(n)]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.integration)])
def open_store(request, tmp_path):
    """A callable opening one more connection to the same, initially empty, ledger."""
    opened = []
    if request.param == "sqlite":
        path = tmp_path / "ledger.sqlite"

        def factory():
            opened.append(SqliteLedger(path))
            return opened[-1]
    else:
        from crawlers.ledger.postgres import PostgresLedger

        url = request.getfixturevalue("database_url")

        def factory():
            opened.append(PostgresLedger(url))
            return opened[-1]

    yield factory
    for store in opened:
        store.close()


def test_generate_is_idempotent(open_store):
    store = open_store()
    assert store.generate(make_targets(5)) == 5
    assert store.generate(make_targets(7)) == 2
    assert store.status().overall.counts[PLANNED] == 7


def test_claim_takes_largest_first_and_only_once(open_store):
    store = open_store()
    store.generate(make_targets(5) + make_targets(3, state="MT"))
    first = store.claim("a", 2, 60)
    assert sorted((t.priority, t.state) for t in first) == [(1000, "DE"), (1000, "MT")]
    assert all(t.attempts == 1 and t.id is not None for t in first)
    rest = store.claim("b", 100, 60)
    assert len(rest) == 6
    assert {t.id for t in first}.isdisjoint(t.id for t in rest)
    assert store.claim("c", 100, 60) == []
    assert store.pending() == 0


def test_states_limit_a_claim(open_store):
    store = open_store()
    store.generate(make_targets(4) + make_targets(3, state="MT"))
    got = store.claim("a", 100, 60, states=["MT"])
    assert sorted(t.state for t in got) == ["MT"] * 3
    assert store.pending(["MT"]) == 0
    assert store.pending(["DE", "MT"]) == 4


def test_expired_lease_is_claimed_again_and_the_old_holder_loses_it(open_store):
    store = open_store()
    store.generate(make_targets(2))
    dead = store.claim("dead", 2, 0.5)
    assert store.claim("live", 10, 60) == []
    assert store.leased_by_others("live") == 2
    time.sleep(1.2)
    assert store.leased_by_others("live") == 0
    assert store.status().overall.stuck == 2
    again = store.claim("live", 10, 60)
    assert {t.id for t in again} == {t.id for t in dead}
    assert all(t.attempts == 2 for t in again)
    assert store.finish("dead", dead[0].id, 1, 0, 1) is False
    assert store.renew("dead", [t.id for t in dead], 60) == set()
    assert store.finish("live", again[0].id, 3, 1, 2) is True
    counts = store.status().overall
    assert counts.counts[DONE] == 1 and counts.counts[IN_PROGRESS] == 1
    assert (counts.accepted, counts.rejected) == (3, 1)


def test_renew_keeps_a_lease_alive(open_store):
    store = open_store()
    store.generate(make_targets(1))
    (target,) = store.claim("a", 1, 1)
    for _ in range(3):
        time.sleep(0.5)
        assert store.renew("a", [target.id], 1) == {target.id}
    assert store.claim("b", 1, 60) == []


def test_release_puts_targets_back_without_counting_an_attempt(open_store):
    store = open_store()
    store.generate(make_targets(3))
    claimed = store.claim("a", 3, 60)
    assert store.release("b", [t.id for t in claimed]) == 0
    assert store.release("a", [t.id for t in claimed]) == 3
    again = store.claim("b", 3, 60)
    assert sorted(t.id for t in again) == sorted(t.id for t in claimed)
    assert all(t.attempts == 1 for t in again)


def test_fail_keeps_a_reason_and_reset_plans_it_again(open_store):
    store = open_store()
    store.generate(make_targets(3))
    a, b, c = store.claim("n", 3, 60)
    assert store.fail("n", a.id, "HTTP 503: Service Unavailable", 2, 1, 1)
    assert store.fail("n", b.id, "http_503")
    assert store.finish("n", c.id, 5, 0, 1)
    status = store.status()
    assert status.overall.counts[FAILED] == 2
    assert status.failure_reasons == {"http_503:_service_unavailable": 1, "http_503": 1}
    assert status.finished_recently == 3
    assert status.eta_seconds == 0.0
    assert store.reset(stuck=True) == 0
    assert store.reset(failed=True) == 2
    assert store.status().overall.counts[PLANNED] == 2
    assert {t.id for t in store.claim("m", 5, 60)} == {a.id, b.id}


def test_reset_stuck_only_touches_expired_leases(open_store):
    store = open_store()
    store.generate(make_targets(2))
    store.claim("dead", 1, 0.2)
    store.claim("live", 1, 60)
    time.sleep(0.6)
    assert store.reset(stuck=True) == 1
    overall = store.status().overall
    assert overall.counts[PLANNED] == 1 and overall.counts[IN_PROGRESS] == 1


def test_status_per_state_and_eta(open_store):
    store = open_store()
    store.generate(make_targets(4) + make_targets(2, state="MT"))
    for t in store.claim("n", 2, 60, states=["DE"]):
        store.finish("n", t.id, 1, 0, 1)
    status = store.status()
    assert set(status.states) == {"DE", "MT"}
    assert status.states["DE"].counts[DONE] == 2
    assert status.states["DE"].remaining == 2
    assert status.states["MT"].remaining == 2
    assert status.overall.total == 6
    assert status.per_minute == pytest.approx(2 * 60 / status.window)
    assert status.eta_seconds == pytest.approx(4 / (2 / status.window))
    assert store.status(states=["MT"]).overall.total == 2


def test_nodes_claiming_at_once_never_share_a_target(open_store):
    open_store().generate(make_targets(200))
    got: dict[str, list[int]] = {}
    errors = []

    def node(name):
        store = open_store()
        try:
            mine = got.setdefault(name, [])
            while batch := store.claim(name, 3, 60):
                mine.extend(t.id for t in batch)
        except Exception as exc:  # surfaced below
            errors.append(exc)

    stores = [f"n{i}" for i in range(4)]
    for name in stores:
        got[name] = []
    threads = [threading.Thread(target=node, args=(name,)) for name in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    claimed = [i for ids in got.values() for i in ids]
    assert len(claimed) == len(set(claimed)) == 200


def test_a_targets_file_acts_as_a_ledger_in_memory(tmp_path):
    from crawlers.ledger.files import FileTargets

    path = tmp_path / "t.tsv"
    path.write_text("".join(f"plumbers\tCity{i}, DE\n" for i in range(5)))
    source = FileTargets(path)
    assert source.pending() == 5
    first = source.claim("n", 2, 60)
    assert [t.city for t in first] == ["City0", "City1"]
    assert source.renew("n", [t.id for t in first], 60) == {t.id for t in first}
    assert source.finish("n", first[0].id, 1, 0, 1)
    assert not source.finish("n", first[0].id, 1, 0, 1)
    assert source.release("n", [first[1].id]) == 1
    assert [t.city for t in source.claim("n", 10, 60)] == ["City1", "City2", "City3", "City4"]
    assert source.pending() == 0
    counts = source.status().overall.counts
    assert (counts[DONE], counts[IN_PROGRESS]) == (1, 4)


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.integration)]
)
def test_whether_a_ledger_exists_is_told_without_creating_one(request, tmp_path, backend):
    url = request.getfixturevalue("database_url") if backend == "postgres" else ""
    settings = Settings({"DATA_DIR": str(tmp_path / "data"), "DATABASE_URL": url})
    assert not ledger_exists(settings)
    assert not ledger_exists(settings)  # looking twice still created nothing
    assert not (tmp_path / "data").exists()
    open_ledger(settings).close()
    assert ledger_exists(settings)


def test_targets_status_on_an_empty_data_dir_creates_nothing(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    env = {**os.environ, "DATA_DIR": str(data), "DATABASE_URL": ""}
    out = subprocess.run(
        [sys.executable, "-m", "scrapy", "targets", "status"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(f"targets: no ledger yet in {data} (embedded)")
    assert list(data.iterdir()) == []
