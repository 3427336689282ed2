"""Benchmark and load tooling: programs that print figures (never timed tests). The CLI's ``gateway bench``
command only parses arguments and calls them."""

__all__: list[str] = []
