"""Redis Cluster's rules for the project's keys: a script touches only the keys it is given,
and every key of a job hashes to the job's slot, so scripts and multi-key commands never
span two slots (the integration tests marked redis_cluster run them on a real cluster)."""

from __future__ import annotations

import fnmatch
import re

import pytest
from redis.crc import key_slot

from crawlers import redis_scripts
from crawlers.cluster import keys
from crawlers.cluster.connection import LazyCluster
from crawlers.telemetry.store import RedisStore

_CALL = re.compile(r"redis\.call\(\s*'(\w+)'\s*(?:,\s*([^,)]+))?")
_ASSIGN = re.compile(r"^[ \t]*(?:local[ \t]+)?([\w \t,]+?)[ \t]*=[ \t]*([^=].*)$", re.MULTILINE)
# Commands whose first argument is not a key.
_KEYLESS = {"TIME"}


def key_variables(source: str) -> set[str]:
    """Names only ever assigned a KEYS[n] (`local key, node = KEYS[1], ARGV[1]` included)."""
    assigned: dict[str, set[bool]] = {}
    for names, values in _ASSIGN.findall(source):
        exprs = [v.strip() for v in values.split(",")]
        for i, name in enumerate(n.strip() for n in names.split(",")):
            expr = exprs[i] if i < len(exprs) else ""
            assigned.setdefault(name, set()).add(bool(re.fullmatch(r"KEYS\[\d+\]", expr)))
    return {name for name, kinds in assigned.items() if kinds == {True}}


def touched_keys(source: str) -> list[tuple[str, str]]:
    """(command, first argument) of every redis.call that takes a key."""
    return [(cmd, (arg or "").strip()) for cmd, arg in _CALL.findall(source) if cmd not in _KEYLESS]


@pytest.mark.parametrize("name", redis_scripts.names())
def test_every_script_touches_only_the_keys_it_is_given(name):
    source = redis_scripts.source(name)
    variables = key_variables(source)
    wrong = [
        (cmd, arg)
        for cmd, arg in touched_keys(source)
        if not re.fullmatch(r"KEYS\[(\d+|i)\]", arg) and arg not in variables
    ]
    assert not wrong, f"{name}: keys built in the script, not passed as KEYS: {wrong}"


def test_the_check_sees_a_key_built_in_a_script():
    built = "local run = redis.call('GET', KEYS[1])\nredis.call('ZADD', KEYS[2] .. run, 1, 'a')"
    assert touched_keys(built) == [("GET", "KEYS[1]"), ("ZADD", "KEYS[2] .. run")]
    assert key_variables("local key, node = KEYS[1], ARGV[1]\nlocal live = KEYS[2]") == {
        "key",
        "live",
    }
    assert key_variables("local live = KEYS[2]\nlive = 'x' .. ARGV[1]") == set()


def never_connect():
    raise AssertionError("the key names need no server")


def job_keys(job: str, run: str) -> list[str]:
    """The keys of a job's queue and the state kept beside it: the tag {job}."""
    return [
        *keys.queue_keys(job).values(),
        keys.run_key(job, "emails", "addresses", run),
        keys.run_key(job, "emails", "claims", run),
        keys.run_key(job, "vehicles", "reported", run),
        keys.deals_prefix(job, run) + "planned",
    ]


def telemetry_keys(job: str, run: str) -> list[str]:
    """A job's telemetry: a tag of its own, so Discard ({job}) leaves its history."""
    store = RedisStore(LazyCluster(never_connect), prefix="telemetry")
    return [
        store._job_key(job) + ":current",
        store._runs_key(job),
        *(store._run_key(job, run, part) for part in ("", "series", "live")),
    ]


@pytest.mark.parametrize("job", ["nightly-1122", "emails", "a:b", "x}y"])
def test_every_key_of_a_job_is_in_the_jobs_slot(job):
    for group in (job_keys(job, "run-7"), telemetry_keys(job, "run-7")):
        slots = {key: key_slot(key.encode()) for key in group}
        assert len(set(slots.values())) == 1, slots


def test_the_dashboards_discard_pattern_leaves_the_telemetry():
    pattern = "*{nightly}*"  # crawlers/dashboard/control.py
    assert all(fnmatch.fnmatchcase(k, pattern) for k in job_keys("nightly", "r"))
    assert not any(fnmatch.fnmatchcase(k, pattern) for k in telemetry_keys("nightly", "r"))


def test_two_jobs_can_land_on_different_slots():
    assert key_slot(keys.queue_keys("a")["meta"].encode()) != key_slot(
        keys.queue_keys("b")["meta"].encode()
    )
