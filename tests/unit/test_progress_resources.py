"""The process tree of a crawl: re-parented and detached processes are found and counted.

Real processes, no mocks: each test builds the situation Chromium creates (a detached group
leader, a grandchild re-parented to init, a crash handler that double-forks into its own
session) and checks that the tree finds it while a plain walk of our children does not.
"""

import contextlib
import os
import signal
import subprocess
import sys
import time

import psutil
import pytest

from crawlers.telemetry.resources import MARKER_ENV, ProcessTree, host_resources

# Forks a child that forks the grandchild, then the child exits at once: the grandchild is
# re-parented. ENV selects what the grandchild inherits; SESSION whether it calls setsid.
ORPHAN = """
import os, sys, time
session, keep_env = sys.argv[1] == "1", sys.argv[2] == "1"
child = os.fork()
if child == 0:
    if session:
        os.setsid()
    if os.fork() == 0:
        print(os.getpid(), flush=True)
        os.execve("/bin/sleep", ["sleep", "120"], dict(os.environ) if keep_env else {})
    os._exit(0)
os.waitpid(child, 0)
sys.stdin.read()
"""


@pytest.fixture
def tree(monkeypatch):
    monkeypatch.delenv(MARKER_ENV, raising=False)
    tree = ProcessTree()
    tree.mark_environment()
    assert os.environ[MARKER_ENV] == tree.marker
    yield tree
    monkeypatch.delenv(MARKER_ENV, raising=False)


@pytest.fixture
def spawn():
    started: list[tuple[subprocess.Popen, int]] = []

    def run(session: bool, keep_env: bool, new_group: bool = False) -> tuple[subprocess.Popen, int]:
        proc = subprocess.Popen(
            [sys.executable, "-c", ORPHAN, "1" if session else "0", "1" if keep_env else "0"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=new_group,
        )
        grandchild = int(proc.stdout.readline())
        started.append((proc, grandchild))
        # The middle process exits right after the fork; wait for the re-parenting.
        deadline = time.monotonic() + 10
        while psutil.Process(grandchild).ppid() == _middle(proc) and time.monotonic() < deadline:
            time.sleep(0.02)
        return proc, grandchild

    yield run
    for proc, grandchild in started:
        with contextlib.suppress(ProcessLookupError):
            os.kill(grandchild, signal.SIGKILL)
        proc.stdin.close()
        proc.wait(10)


def _middle(proc: subprocess.Popen) -> int | None:
    children = psutil.Process(proc.pid).children()
    return children[0].pid if children else None


def _descendants() -> set[int]:
    return {p.pid for p in psutil.Process().children(recursive=True)}


def test_a_double_forked_process_in_its_own_session_is_found_by_its_environment(tree, spawn):
    """Chromium's crash handler: setsid, double fork, parent PID 1 from the start."""
    proc, grandchild = spawn(session=True, keep_env=True)
    assert grandchild not in _descendants()
    assert os.getpgid(grandchild) != os.getpgid(0)
    members = {p.pid for p in tree.members()}
    assert {os.getpid(), proc.pid, grandchild} <= members


def test_an_orphan_of_a_detached_group_leader_is_found_by_its_group(tree, spawn):
    """Chromium leads its own group; a renderer whose parent exited keeps that group."""
    proc, grandchild = spawn(session=False, keep_env=False, new_group=True)
    assert grandchild not in _descendants()
    assert os.getpgid(grandchild) == proc.pid
    assert grandchild in {p.pid for p in tree.members()}


def test_a_stranger_is_not_counted(tree, spawn):
    """Same orphaning, but new session and no inherited environment: nothing ties it to us."""
    _, grandchild = spawn(session=True, keep_env=False)
    assert grandchild not in {p.pid for p in tree.members()}


def test_sample_counts_memory_and_keeps_cpu_of_exited_processes(tree):
    burn = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import os, sys\n"
            "while sum(os.times()[:2]) < 0.3: pass\n"
            "print('ready', flush=True); sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert burn.stdout.readline().strip() == "ready"
    alive = tree.sample()
    assert alive.processes >= 2
    assert alive.memory_bytes > 0
    assert alive.memory_kind in {"pss", "rss"}
    assert alive.cpu_seconds >= 0.3
    burn.stdin.close()
    burn.wait(10)
    after = tree.sample()
    assert after.processes == alive.processes - 1
    assert after.cpu_seconds >= alive.cpu_seconds
    assert after.cpu_percent is not None


def test_host_resources():
    host = host_resources()
    assert host["cpus"] >= 1
    assert 0 < host["memory_available_bytes"] <= host["memory_total_bytes"]
    assert len(host["load"]) == 3
