"""Every Redis key the project writes, and how long shared state outlives its run.

Keys of one job share the hash tag `{<job>}` wherever a script touches several of them, so
the scripts also run on Redis Cluster. `<job>` is CRAWL_JOB (default: the spider's name),
`<run>` the token of the job's current run (crawlers/cluster/queue.py).

  cluster:{<job>}:<name>          the shared queue, one key per QUEUE_NAMES (queue.py)
  <kind>:{<job>}:<name>:<run>     state kept beside the queue for one run (run_key):
                                    emails:{<job>}:addresses:<run>, emails:{<job>}:claims:<run>
                                    (crawlers/emails/addresses.py),
                                    vehicles:{<job>}:reported:<run> (reported.py)
  deals:{<job>}:<run>:...         the deals' ranking state (crawlers/deals/state.py)
  pace:{<job>}:<site>             a site's pace shared by a job's nodes (all runs: the pace is
                                    between a job and a site; crawlers/pace/)
  crawlers:<job>:proxy-health     proxy bans and rests shared by a job's nodes (all runs:
                                    a ban is between a proxy and a site)
  <job>:start_urls                seed URLs pushed for the emails spider
  TELEMETRY_PREFIX:...            node snapshots (crawlers/telemetry/store.py)
"""

from __future__ import annotations

# A finished run's state is not needed for long: a week after its last change.
STATE_TTL_SECONDS = 7 * 24 * 3600

QUEUE_NAMES = ("meta", "queue", "requests", "prio", "leases", "owners", "seen", "nodes", "starting")


def queue_keys(job: str) -> dict[str, str]:
    return {name: f"cluster:{{{job}}}:{name}" for name in QUEUE_NAMES}


def run_key(job: str, kind: str, name: str, run: str) -> str:
    return f"{kind}:{{{job}}}:{name}:{run or 'norun'}"


def deals_prefix(job: str, run: str) -> str:
    return f"deals:{{{job}}}:{run}:"


def pace(job: str, site: str) -> str:
    return f"pace:{{{job}}}:{site}"


def proxy_health(job: str) -> str:
    return f"crawlers:{job}:proxy-health"


def start_urls(job: str) -> str:
    return f"{job}:start_urls"
