"""Benchmarks (``make bench``): not part of ``make test``; goals are checked here, not in tests."""
