"""The knobs every sandbox site shares, and a bag of site-specific options."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any


@dataclass
class Knobs:
    latency_ms: float = 0.0  # mean added latency per response
    jitter_ms: float = 0.0  # standard deviation of that latency
    fault_429: float = 0.0  # share of requests answered 429 with Retry-After
    fault_5xx: float = 0.0  # share answered 500/502/503
    fault_reset: float = 0.0  # share whose connection is reset
    fault_hang: float = 0.0  # share that hang until the client gives up
    retry_after: float = 1.0  # seconds sent in Retry-After
    hang_seconds: float = 300.0  # how long a hang lasts before the socket is dropped
    seed: int = 1  # deterministic data and fault sequence
    size: int = 0  # site-defined data size (0: the site's default)
    options: dict[str, Any] = field(default_factory=dict)  # site-specific knobs

    def update(self, **values: Any) -> None:
        names = {f.name for f in fields(self)}
        for key, value in values.items():
            if key in names and key != "options":
                current = getattr(self, key)
                setattr(self, key, type(current)(value))
            elif key == "options":
                self.options.update(value)
            else:
                self.options[key] = value

    def option(self, name: str, default: Any) -> Any:
        """A site option converted to the type of its default ("0"/"false" are False)."""
        value = self.options.get(name, default)
        if isinstance(default, bool) and isinstance(value, str):
            return value.strip().lower() in {"1", "true", "yes", "on"}
        if default is not None and not isinstance(value, type(default)):
            return type(default)(value)
        return value

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def fault_total(self) -> float:
        return self.fault_429 + self.fault_5xx + self.fault_reset + self.fault_hang
