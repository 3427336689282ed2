"""Benchmarks behind ``gateway bench``: commands that print figures (never timed tests)."""
