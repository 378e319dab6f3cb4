"""Local imitations of the sites in SITES.md, with latency and fault knobs.

from sandbox import Sandbox
with Sandbox(["vehicles"], knobs={"vehicles": {"fault_429": 0.1}}) as sb:
    sb.url("vehicles"); sb.truth("vehicles"); sb.set_knobs("vehicles", fault_429=0)
"""

from sandbox.knobs import Knobs
from sandbox.server import Sandbox

__all__ = ["Knobs", "Sandbox"]
