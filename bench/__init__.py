"""Benchmarks: measurements run by hand, not tests (`python -m bench.<name>`)."""
