"""bench.measure on commands with a known CPU time and memory, one process escaping the tree."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import psutil
import pytest

from bench.measure import run

MB = 1024 * 1024

# The root holds 100 MB and burns 0.4 s of CPU; its grandchild escapes (double fork and
# setsid: re-parented to init, in a session of its own) and holds 150 MB while the root
# does, then burns 0.6 s. The root waits for the grandchild's end, then exits 3.
WORKLOAD = textwrap.dedent(
    """
    import os, sys, time

    def burn(seconds):
        start = time.process_time()
        while time.process_time() - start < seconds:
            pass

    MB = 1024 * 1024
    ready_r, ready_w = os.pipe()
    done_r, done_w = os.pipe()
    if os.fork() == 0:
        os.setsid()
        if os.fork():
            os._exit(0)
        held = b"g" * (150 * MB)
        os.write(ready_w, b"1")
        time.sleep(1.5)  # both hold their memory for several samples
        del held
        burn(0.6)
        os.write(done_w, b"1")
        os._exit(0)
    os.wait()  # the intermediate child
    held = b"r" * (100 * MB)
    os.read(ready_r, 1)
    burn(0.4)
    os.read(done_r, 1)
    time.sleep(0.1)
    sys.exit(3)
    """
)

# Outside the measured tree, running at the same time: must not be counted.
BYSTANDER = textwrap.dedent(
    """
    import time
    held = b"b" * (200 * 1024 * 1024)
    start = time.process_time()
    while time.process_time() - start < 3:
        pass
    """
)


@pytest.mark.timeout(120)
def test_counts_an_escaped_grandchild_and_not_a_bystander(tmp_path):
    bystander = subprocess.Popen([sys.executable, "-c", BYSTANDER])
    try:
        m = run([sys.executable, "-c", WORKLOAD], log_path=tmp_path / "log", interval=0.1)
    finally:
        bystander.kill()
        bystander.wait()
    assert m.returncode == 3, (tmp_path / "log").read_text()
    # 1.0 s burnt, plus one interpreter start-up; the bystander's 3 s would show.
    assert 0.95 <= m.cpu_seconds <= 1.6, m
    # 250 MB held at once, plus the interpreter; without the grandchild it would be ~110 MB,
    # with the bystander ~460 MB.
    assert 245 * MB <= m.peak_pss_bytes <= 330 * MB, m
    assert m.processes_seen in (2, 3), m  # root, grandchild (the intermediate is brief)
    assert m.wall_seconds >= 1.5


@pytest.mark.timeout(60)
def test_timeout_kills_the_whole_tree(tmp_path):
    script = textwrap.dedent(
        """
        import os, subprocess, sys, time
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        print(child.pid, flush=True)
        time.sleep(60)
        """
    )
    log = tmp_path / "log"
    with pytest.raises(subprocess.TimeoutExpired):
        run([sys.executable, "-c", script], log_path=log, interval=0.1, timeout=2)
    child = int(log.read_text().split()[0])
    # SIGKILL is delivered asynchronously: give the grandchild a moment to die.
    assert any(_gone(child) or time.sleep(0.1) for _ in range(50))


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_command_line_prints_the_measurement_and_passes_the_exit_code(capsys):
    from bench.measure import main

    code = main(["--", sys.executable, "-c", "import sys; print('out'); sys.exit(4)"])
    assert code == 4
    err = capsys.readouterr().err
    assert '"returncode": 4' in err and '"peak_pss_bytes"' in err
    assert main(["--", "/nonexistent/command"]) == 2
    assert "measure: cannot run /nonexistent/command" in capsys.readouterr().err
