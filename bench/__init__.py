"""binguard's benchmarks: `make bench` (or `python -m bench [NAME...]`) runs every bench_*.py here.

Each module has `run() -> None`, prints its figures and the ratio against its peer measured in the
same run, and returns. Benchmarks talk only to loopback.
"""
