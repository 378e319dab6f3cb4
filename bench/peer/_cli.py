"""What the peer scripts share: the settings BENCHMARKS.md gives for the peer, their output
options, and how a run ends (its summary as JSON, to a file for bench/compare.py and to
stdout)."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from crawlee import ConcurrencySettings
from crawlee.storage_clients import MemoryStorageClient


def peer_settings(concurrency: int) -> dict:
    """Exactly `concurrency` at once (autoscaling cannot go below or above it), and
    in-memory storage (the default file-system storage costs as much CPU as Scrapy)."""
    return {
        "concurrency_settings": ConcurrencySettings(
            min_concurrency=concurrency,
            desired_concurrency=concurrency,
            max_concurrency=concurrency,
        ),
        "storage_client": MemoryStorageClient(),
    }


def add_output_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--items", help="export the items here at the end (.json)")
    p.add_argument("--summary", help="write pages/items/failures as JSON here")


def run(crawl: Callable[[argparse.Namespace], Awaitable[dict]], args) -> int:
    logging.basicConfig(level=logging.INFO)
    summary = asyncio.run(crawl(args))
    if args.summary:
        Path(args.summary).write_text(json.dumps(summary))
    print(json.dumps(summary))
    return 0
