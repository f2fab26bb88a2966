"""Benchmarks of the engine; run `python -m bench.engine --help` (see bench/README.md). Not tests."""
