"""The benchmark suite: ``python -m bench`` (``make bench``) writes docs/benchmarks.md."""
