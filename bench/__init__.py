"""Benchmarks, run on demand: `python -m bench <name> [options]` (or `make bench`)."""
