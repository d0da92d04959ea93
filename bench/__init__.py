"""Benchmarks of the workflow engine; run ``python -m bench.apply``."""
