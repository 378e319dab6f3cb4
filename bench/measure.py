"""Run a command and measure its whole process tree: wall time, CPU seconds, peak PSS.

Membership follows crawlers/telemetry/resources.py (children, process groups they lead, the
environment marker), with two additions a benchmark needs:
  - a process seen in the tree once stays counted until it exits, wherever it is re-parented
    (Chromium's processes move to init when the process that started them exits);
  - the command's environment carries a marker of this run, so processes that leave the
    tree before the first sample reaches them (double forks, `setsid()`) are still found.
    A crawl that marks its own environment (our ResourceMonitor) is recognised too.
CPU is each process's own user+system time at its last sample. The command's root process
is sampled once more after it exits and before it is reaped (a zombie keeps its final
times), so the root's tail is not lost; a child's CPU after its last sample is (at most one
interval's worth). PSS is summed over the tree at each sample; the peak is the largest sum.

From the command line: `python -m bench measure [--interval S] -- CMD [ARGS...]` runs CMD
(its output shown) and prints the measurement as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

from crawlers.telemetry.resources import MARKER_ENV, ProcessTree


@dataclass
class Measurement:
    returncode: int
    wall_seconds: float
    cpu_seconds: float
    peak_pss_bytes: int
    memory_kind: str  # "pss", or "rss" where PSS could not be read
    peak_processes: int
    processes_seen: int
    samples: int
    load_before: float  # 1-minute load average when the command started
    load_after: float
    # With `timeline`: (unix time, tree PSS bytes, browser processes alive) at each sample.
    timeline: list[tuple[float, int, int]] | None = None

    def as_dict(self) -> dict:
        return asdict(self)


class _Tree(ProcessTree):
    """ProcessTree that also accepts this run's own marker, set in the command's environment."""

    def __init__(self, root_pid: int, run_marker: str):
        super().__init__(root_pid)
        self.markers = {self.marker, run_marker}

    def _carries_marker(self, proc: psutil.Process, key: tuple[int, float]) -> bool:
        if key not in self._marked:
            try:
                self._marked[key] = proc.environ().get(MARKER_ENV) in self.markers
            except psutil.Error:
                self._marked[key] = False
        return self._marked[key]


class TreeSampler:
    """Samples one process tree; `sample()` repeatedly, then read the totals."""

    def __init__(self, root_pid: int, run_marker: str = ""):
        self.tree = _Tree(root_pid, run_marker or f"unmarked-{root_pid}")
        self.root_pid = root_pid
        self.known: dict[tuple[int, float], psutil.Process] = {}
        self.cpu: dict[tuple[int, float], float] = {}
        self.peak_pss = 0
        self.peak_processes = 0
        self.memory_kind = "pss"
        self.samples = 0
        self.timeline: list[tuple[float, int, int]] | None = None

    def sample(self, root_exited: bool = False) -> int:
        """One sample; returns how many processes of the tree are still alive (zombies not)."""
        if not root_exited:
            for proc in self.tree.members():
                try:
                    self.known.setdefault((proc.pid, proc.create_time()), proc)
                except psutil.Error:
                    continue
        memory = 0
        alive = 0
        browsers = 0
        for key, proc in list(self.known.items()):
            try:
                times = proc.cpu_times()
                self.cpu[key] = times.user + times.system
                if proc.status() == psutil.STATUS_ZOMBIE:
                    continue
            except psutil.Error:  # exited: its CPU stays at the last sample
                del self.known[key]
                continue
            alive += 1
            if self.timeline is not None and _is_browser(proc):
                browsers += 1
            try:
                memory += proc.memory_full_info().pss
            except psutil.AccessDenied:
                memory += proc.memory_info().rss
                self.memory_kind = "rss"
            except psutil.Error:
                continue
        self.samples += 1
        if self.timeline is not None:
            self.timeline.append((round(time.time(), 3), memory, browsers))
        self.peak_pss = max(self.peak_pss, memory)
        self.peak_processes = max(self.peak_processes, alive)
        return alive

    @property
    def cpu_seconds(self) -> float:
        return sum(self.cpu.values())


def _is_browser(proc: psutil.Process) -> bool:
    try:
        name = proc.name()
    except psutil.Error:
        return False
    return "chrom" in name or "headless_shell" in name


def _exited(pid: int) -> bool:
    """True once the process has exited; it stays a zombie (not reaped) for a last sample."""
    info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    return info is not None and info.si_pid == pid


def run(
    cmd: list[str],
    *,
    cwd: str | Path | None = None,
    env: dict[str, str] | None = None,
    log_path: str | Path | None = None,
    inherit_output: bool = False,
    interval: float = 0.25,
    timeout: float | None = None,
    linger: float = 10.0,
    timeline: bool = False,
) -> Measurement:
    """Run `cmd` to its end, sampling its tree every `interval` seconds.

    stdout and stderr go to `log_path`, or to ours with `inherit_output`, else nowhere.
    Processes of the tree still alive `linger` seconds after the root exits are killed (they
    are the command's own). On `timeout` the command is killed and TimeoutExpired raised.
    """
    marker = f"bench-{uuid.uuid4().hex}"
    full_env = {**(os.environ if env is None else env), MARKER_ENV: marker}
    quiet = None if inherit_output else subprocess.DEVNULL
    log = open(log_path, "wb") if log_path else quiet  # noqa: SIM115
    load_before = os.getloadavg()[0]
    started = time.monotonic()
    try:
        proc = subprocess.Popen(
            cmd, cwd=cwd, env=full_env, stdin=subprocess.DEVNULL, stdout=log, stderr=log
        )
        sampler = TreeSampler(proc.pid, marker)
        if timeline:
            sampler.timeline = []
        try:
            while not _exited(proc.pid):
                sampler.sample()
                if timeout is not None and time.monotonic() - started > timeout:
                    raise subprocess.TimeoutExpired(cmd, timeout)
                time.sleep(interval)
            wall = time.monotonic() - started
            deadline = time.monotonic() + linger
            while sampler.sample(root_exited=True) and time.monotonic() < deadline:
                time.sleep(interval)
        finally:
            _kill_leftovers(sampler, proc)
        returncode = proc.wait()
    finally:
        if log_path:
            log.close()
    return Measurement(
        returncode=returncode,
        wall_seconds=round(wall, 3),
        cpu_seconds=round(sampler.cpu_seconds, 3),
        peak_pss_bytes=sampler.peak_pss,
        memory_kind=sampler.memory_kind,
        peak_processes=sampler.peak_processes,
        processes_seen=len(sampler.cpu),
        samples=sampler.samples,
        load_before=round(load_before, 2),
        load_after=round(os.getloadavg()[0], 2),
        timeline=sampler.timeline,
    )


def _kill_leftovers(sampler: TreeSampler, proc: subprocess.Popen) -> None:
    for key, member in list(sampler.known.items()):
        if member.pid == proc.pid:
            continue
        try:
            if member.create_time() == key[1]:
                member.kill()
        except psutil.Error:
            pass
    if proc.poll() is None:
        proc.kill()


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m bench measure", description=__doc__)
    p.add_argument("--interval", type=float, default=0.25, help="seconds between samples")
    p.add_argument("cmd", nargs=argparse.REMAINDER, help="-- CMD [ARGS...]")
    args = p.parse_args(argv)
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd:
        p.error("give the command to measure after --")
    try:
        m = run(cmd, inherit_output=True, interval=args.interval)
    except OSError as exc:
        print(f"measure: cannot run {cmd[0]}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    print(json.dumps(m.as_dict()), file=sys.stderr)
    return m.returncode
