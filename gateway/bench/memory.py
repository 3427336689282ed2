"""``gateway bench memory``: resident memory of a ``gateway serve`` process, stage by stage, with the
memory settings as configured and with the defaults of the libraries (SaxonC's heap, glibc's arenas and
mmap threshold, no malloc_trim).

Each configuration runs in a fresh process that does what ``serve`` does before answering (imports the
API and uvicorn, caps the malloc arenas and fixes the mmap threshold, builds the app and its services,
compiles the default rule set), then validates the official examples from a pool of threads as the API
does, then one generated 5,000-line invoice, and reports VmRSS and VmHWM (``/proc/self/status``) after
each stage and the CPU time per document. A benchmark prints figures; it is not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from gateway.config import Settings

_EXAMPLES = "peppol-bis-billing-3.0.21/examples"
_LARGE_SOURCE = f"{_EXAMPLES}/base-example.xml"
_STAGES = ("imports", "app", "warm", "examples", "large")
_STAGE_LABELS = {
    "imports": "after imports",
    "app": "app + services built",
    "warm": "default rule set compiled",
    "examples": "after the examples",
    "large": "after a 5,000-line invoice",
}
#: Environment of the "library defaults" column: SaxonC's own heap sizing, glibc's own arenas.
LIBRARY_DEFAULTS = {
    "GATEWAY_VALIDATION__SAXON_YOUNG_GENERATION_MIB": "0",
    "GATEWAY_SERVER__MALLOC_ARENAS": "0",
    "GATEWAY_SERVER__MALLOC_MMAP_THRESHOLD_BYTES": "0",
    "GATEWAY_VALIDATION__MALLOC_TRIM_ABOVE_BYTES": "0",
}


def _memory() -> dict[str, int]:
    found: dict[str, int] = {}
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                found[key] = int(value.split()[0]) // 1024
    return found


def _probe(documents: int, lines: int) -> dict[str, Any]:
    """The child: a serve-like start, then validations; returns the figures."""
    report: dict[str, Any] = {}
    import uvicorn  # noqa: F401 - imported by `gateway serve` with the API

    from gateway.api.app import create_app
    from gateway.api.malloc_arenas import fix_mmap_threshold, limit_malloc_arenas
    from gateway.bench.validation import large_invoice

    report["imports"] = _memory()
    settings = Settings()
    limit_malloc_arenas(settings.server.malloc_arenas)
    fix_mmap_threshold(settings.server.malloc_mmap_threshold_bytes)
    app = create_app(settings)
    engine = app.state.services.validation
    report["app"] = _memory()
    with ThreadPoolExecutor(max_workers=4) as pool:  # the API validates in worker threads
        pool.submit(engine.warm_up).result()
        report["warm"] = _memory()
        mirror = engine.store.mirror
        if mirror is None:
            raise RuntimeError("the benchmark reads the official examples from the artefact mirror")
        examples = [path.read_bytes() for path in sorted((mirror / _EXAMPLES).glob("*.xml"))]
        started = time.process_time()
        list(pool.map(engine.validate, [examples[i % len(examples)] for i in range(documents)]))
        report["cpu_ms_per_document"] = (time.process_time() - started) * 1000 / max(documents, 1)
        report["examples"] = _memory()
        if lines:
            document = large_invoice((mirror / _LARGE_SOURCE).read_bytes(), lines)
            pool.submit(engine.validate, document).result()
            report["large"] = _memory()
    return report


def _run_child(env: dict[str, str], documents: int, lines: int) -> dict[str, Any]:
    command = [sys.executable, "-m", "gateway.bench.memory", str(documents), str(lines)]
    run = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if run.returncode != 0:
        raise RuntimeError(f"memory probe failed: {run.stderr.strip()[-2000:]}")
    result: dict[str, Any] = json.loads(run.stdout.strip().splitlines()[-1])
    return result


def run_bench_memory(args: argparse.Namespace, settings: Settings) -> int:
    """Print RSS / peak per stage for each configuration side by side (fresh processes, alternated)."""
    from gateway.store import upgrade_database

    columns: dict[str, dict[str, str]] = {"library defaults": LIBRARY_DEFAULTS, "as configured": {}}
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in columns}
    with tempfile.TemporaryDirectory(prefix="gateway-bench-memory-") as workdir:
        url = f"sqlite:///{Path(workdir) / 'gateway.db'}"
        upgrade_database(url)  # migrated once, as a deployed gateway's database is
        base = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
        base.update(
            {
                "GATEWAY_DATABASE__URL": url,
                "GATEWAY_TRUSTSTORE__STAGE": "development",
                "GATEWAY_API__KEYS": json.dumps([{"name": "bench", "role": "admin", "key": "b" * 32}]),
                "GATEWAY_LOG_LEVEL": "WARNING",
            }
        )
        for _ in range(args.repeat):
            for name, overrides in columns.items():
                results[name].append(_run_child({**base, **overrides}, args.documents, args.lines))
    _print(results, args)
    return 0


def _print(results: dict[str, list[dict[str, Any]]], args: argparse.Namespace) -> None:
    names = list(results)
    print(
        f"gateway bench memory: a serve-like process per column and run ({args.repeat} runs each,"
        f" alternated), {args.documents} official examples from 4 threads, then a {args.lines}-line invoice"
    )
    print("MiB: VmRSS (VmHWM = peak so far); median of the runs")
    print(f"{'stage':32}" + "".join(f"{name:>24}" for name in names))
    for stage in _STAGES:
        cells = []
        for name in names:
            runs = [r[stage] for r in results[name] if stage in r]
            if not runs:
                cells.append(f"{'-':>24}")
                continue
            rss = sorted(r["VmRSS"] for r in runs)[len(runs) // 2]
            hwm = sorted(r["VmHWM"] for r in runs)[len(runs) // 2]
            cells.append(f"{f'{rss} (peak {hwm})':>24}")
        print(f"{_STAGE_LABELS[stage]:32}" + "".join(cells))
    cpu = [sorted(r["cpu_ms_per_document"] for r in results[n])[len(results[n]) // 2] for n in names]
    print(f"{'CPU ms per example (process)':32}" + "".join(f"{c:>24.2f}" for c in cpu))
    print("library defaults: " + ", ".join(f"{k}={v}" for k, v in LIBRARY_DEFAULTS.items()))


if __name__ == "__main__":
    print(json.dumps(_probe(int(sys.argv[1]), int(sys.argv[2]))))
