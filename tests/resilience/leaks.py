"""Find secrets in what a crawl leaves behind: logs, stats dumps, reports, items, files.

A scanner holds the secrets of one test (credentials the test handed to a crawl, the
database password, proxy passwords), the texts it captured (stdout and stderr of crawls)
and the folders the crawls wrote to. `findings()` names each place a secret shows up, by
label and the secret's first characters only, so a failure message leaks nothing itself.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from pathlib import Path

# Shorter values would match by chance (and are no secrets worth the name).
MIN_SECRET = 6


@dataclass
class LeakScanner:
    secrets: set[str] = field(default_factory=set)
    texts: list[tuple[str, str]] = field(default_factory=list)
    roots: list[Path] = field(default_factory=list)
    excluded: list[Path] = field(default_factory=list)
    scanned_files: int = 0

    def secret(self, *values: str) -> None:
        for value in values:
            if len(value) < MIN_SECRET:
                raise ValueError(f"secret too short to scan for: {len(value)} characters")
            self.secrets.add(value)

    def basic_auth(self, user: str, password: str) -> None:
        """The password, and the Basic credentials an Authorization header would carry."""
        self.secret(password, base64.b64encode(f"{user}:{password}".encode()).decode())

    def text(self, label: str, text: str) -> None:
        self.texts.append((label, text))

    def root(self, path: Path) -> None:
        self.roots.append(Path(path))

    def exclude(self, path: Path) -> None:
        """An input the test itself wrote with a secret in it (a proxy list)."""
        self.excluded.append(Path(path).resolve())

    def _is_excluded(self, path: Path) -> bool:
        resolved = path.resolve()
        return any(resolved == e or e in resolved.parents for e in self.excluded)

    def findings(self) -> list[str]:
        found: list[str] = []
        needles = [(s, s.encode()) for s in sorted(self.secrets)]
        for label, text in self.texts:
            found += [f"{label}: {s[:3]}***" for s, _ in needles if s in text]
        self.scanned_files = 0
        for root in self.roots:
            if not root.exists():
                continue
            for path in sorted(p for p in root.rglob("*") if p.is_file()):
                if self._is_excluded(path):
                    continue
                try:
                    body = path.read_bytes()
                except OSError:
                    continue
                self.scanned_files += 1
                # Also the JSON-escaped and UTF-16 forms a serializer could write.
                for s, raw in needles:
                    if raw in body or s.encode("utf-16-le") in body:
                        found.append(f"{path}: {s[:3]}***")
        return found
