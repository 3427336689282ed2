"""``gateway bench render``: ms to read a large invoice and render it as HTML (and, with --pdf, as PDF).

A benchmark prints figures; it is not a test. The invoice is an official example with its first line
repeated (totals untouched: rendering shows what is stated).
"""

from __future__ import annotations

import argparse
import statistics
import time

from gateway.bench.validation import large_invoice
from gateway.bootstrap import build_artefact_store
from gateway.config import Settings
from gateway.render import RenderOptions, html_to_pdf, read_view, render_html

_SOURCE = "peppol-bis-billing-3.0.21/examples/base-example.xml"


def run_bench_render(args: argparse.Namespace, settings: Settings) -> int:
    """Print the median read + HTML time for ``args.lines`` lines over ``args.repeat`` runs."""
    store = build_artefact_store(settings)
    if store.mirror is None:
        print("bench render: no artefact mirror (GATEWAY_ARTEFACTS__MIRROR) for the example invoice")
        return 2
    data = large_invoice(store.mirror.joinpath(_SOURCE).read_bytes(), args.lines)
    options = RenderOptions(language=args.lang)
    render_html(read_view(data), options)  # warm the template cache and the catalogue
    runs: list[float] = []
    html = ""
    for _ in range(args.repeat):
        started = time.perf_counter()
        html = render_html(read_view(data), options)
        runs.append((time.perf_counter() - started) * 1000)
    print(f"render {args.lines} lines ({len(data) // 1024} KiB UBL, {args.lang}):")
    print(
        f"  read + HTML  median {statistics.median(runs):8.1f} ms  (min {min(runs):.1f}, {args.repeat} runs)"
    )
    if args.pdf:
        started = time.perf_counter()
        pdf = html_to_pdf(html)
        elapsed = (time.perf_counter() - started) * 1000
        print(f"  HTML -> PDF         {elapsed:8.1f} ms  ({len(pdf) // 1024} KiB, one run)")
    return 0
