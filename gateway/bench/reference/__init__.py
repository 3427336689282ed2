"""Scripts run by the benchmarks under another interpreter (a reference library's own virtualenv).

They import nothing from ``gateway``: each is started as a file with that interpreter and speaks JSON lines.
"""
