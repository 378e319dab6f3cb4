"""Memory and CPU of a crawl's whole process tree, Chromium included, and of the host.

Walking our own children is not enough for a browser crawl. Playwright's driver starts
Chromium detached (it leads its own process group, so the driver can kill it as a group);
when one of Chromium's intermediate processes exits, its children are re-parented to init
or to a subreaper and drop out of our tree; and Chromium's crash handlers double-fork and
`setsid()` on purpose, living under PID 1 from the start. A process belongs to the crawl when:
  - its parent belongs to it (our children, recursively);
  - it is in a process group led by a process that belongs to it (Chromium's group), but
    never our own group, which may hold our siblings (a shell pipeline, a test runner);
  - its environment carries our marker: `mark_environment()` sets CRAWLERS_PROCESS_TREE
    before the browser starts, and every process exec'd below inherits it, re-parented or
    not. (Chromium rewrites the environment area of its zygote children when it sets their
    process titles, which is why the other two rules stay.)
Only processes started after ours are examined, and each one's environment is read once.

Memory is PSS (shared pages split between the processes sharing them), so Chromium's many
processes are not counted once per process as RSS would; RSS only where PSS is unreadable.
CPU seconds are summed over every process ever seen in the tree, exited ones included.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass

import psutil

MARKER_ENV = "CRAWLERS_PROCESS_TREE"


@dataclass
class Sample:
    memory_bytes: int
    memory_kind: str  # "pss" or "rss"
    cpu_seconds: float
    cpu_percent: float | None  # since the previous sample; 100 = one core busy
    processes: int
    at: float


class ProcessTree:
    def __init__(self, root_pid: int | None = None):
        self.root = psutil.Process(root_pid or os.getpid())
        self.since = self.root.create_time()
        self.marker = f"{self.root.pid}-{int(self.since * 1000)}"
        self.own_group = os.getpgid(self.root.pid)
        self._marked: dict[tuple[int, float], bool] = {}
        self._cpu: dict[tuple[int, float], float] = {}
        self._cpu_exited = 0.0
        self._last: Sample | None = None
        self._lock = threading.Lock()  # sampled from a worker thread and at close

    def mark_environment(self) -> None:
        """Tag every process started from now on (the browser included) as ours."""
        os.environ[MARKER_ENV] = self.marker

    def _carries_marker(self, proc: psutil.Process, key: tuple[int, float]) -> bool:
        if key not in self._marked:
            try:
                self._marked[key] = proc.environ().get(MARKER_ENV) == self.marker
            except psutil.Error:
                self._marked[key] = False
        return self._marked[key]

    def members(self) -> list[psutil.Process]:
        candidates: dict[int, tuple[psutil.Process, int, int, float]] = {}
        for proc in psutil.process_iter(["ppid", "create_time"]):
            created = proc.info["create_time"]
            if created is None or created < self.since or proc.pid == self.root.pid:
                continue
            try:
                group = os.getpgid(proc.pid)
            except OSError:
                continue
            candidates[proc.pid] = (proc, proc.info["ppid"], group, created)
        live_keys = {(pid, c[3]) for pid, c in candidates.items()}
        self._marked = {k: v for k, v in self._marked.items() if k in live_keys}

        tree = {self.root.pid: self.root}
        changed = True
        while changed:
            changed = False
            for pid, (proc, ppid, group, created) in candidates.items():
                if pid in tree:
                    continue
                if (
                    ppid in tree
                    or (group in tree and group != self.own_group)
                    or self._carries_marker(proc, (pid, created))
                ):
                    tree[pid] = proc
                    changed = True
        return list(tree.values())

    def sample(self) -> Sample:
        with self._lock:
            return self._sample()

    def _sample(self) -> Sample:
        memory = 0
        kind = "pss"
        cpu: dict[tuple[int, float], float] = {}
        for proc in self.members():
            try:
                with proc.oneshot():
                    times = proc.cpu_times()
                    key = (proc.pid, proc.create_time())
                    try:
                        memory += proc.memory_full_info().pss
                    except psutil.AccessDenied:
                        memory += proc.memory_info().rss
                        kind = "rss"
            except psutil.Error:  # exited (or a zombie) between listing and reading
                continue
            cpu[key] = times.user + times.system
        for key, seconds in self._cpu.items():
            if key not in cpu:
                self._cpu_exited += seconds
        self._cpu = cpu
        now = time.monotonic()
        total_cpu = self._cpu_exited + sum(cpu.values())
        percent = None
        if self._last is not None and now > self._last.at:
            percent = max(0.0, 100.0 * (total_cpu - self._last.cpu_seconds) / (now - self._last.at))
        self._last = Sample(memory, kind, round(total_cpu, 3), percent, len(cpu), now)
        return self._last


def host_resources() -> dict:
    """The machine's own figures, for the dashboard's resources panel."""
    memory = psutil.virtual_memory()
    load1, load5, load15 = os.getloadavg()
    return {
        "cpus": psutil.cpu_count() or 1,
        "load": [round(load1, 2), round(load5, 2), round(load15, 2)],
        "memory_total_bytes": memory.total,
        "memory_available_bytes": memory.available,
        "memory_percent": memory.percent,
    }
