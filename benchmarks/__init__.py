"""Benchmarks (`make bench` = `python -m benchmarks`): kill-switch latency with real processes."""
