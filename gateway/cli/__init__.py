"""Command-line entry points (``gateway ...``)."""
