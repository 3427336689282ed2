"""Saxon's heap sized at isolate creation (gateway.validation.saxon_heap): the limits take effect in a
fresh process, findings do not change, a 5,000-line invoice still validates, and a process whose
isolate already exists keeps it. Each case runs in its own interpreter: the isolate is per process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

_PROBE = """
import json, sys
from pathlib import Path
from gateway.bench.validation import large_invoice
from gateway.validation import ArtefactStore, ValidationEngine
from gateway.validation.saxon_heap import saxon_heap_options, size_saxon_heap

mirror, heap, lines = Path(sys.argv[1]), json.loads(sys.argv[2]), int(sys.argv[3])
store = ArtefactStore.from_paths(mirror=mirror, cache_dir=Path(sys.argv[4]))
engine = ValidationEngine(store, saxon_heap=tuple(heap) if heap else None)
base = (mirror / "peppol-bis-billing-3.0.21/examples/base-example.xml").read_bytes()
reports = [engine.validate(base), engine.validate(large_invoice(base, lines))]
status = {k: int(v.split()[0]) for k, v in
          (line.split(":", 1) for line in open("/proc/self/status")) if k in ("VmRSS", "VmHWM")}
print(json.dumps({
    "options": saxon_heap_options(),
    "again": size_saxon_heap(64, 64),
    "findings": [sorted((f.rule, f.severity.value) for f in r.findings) for r in reports],
    "rss_kib": status["VmRSS"],
}))
"""


def _run(artefacts_dir: Path, cache: Path, heap: list[int] | None, lines: int) -> dict[str, object]:
    run = subprocess.run(
        [sys.executable, "-c", _PROBE, str(artefacts_dir), json.dumps(heap), str(lines), str(cache)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    result: dict[str, object] = json.loads(run.stdout.strip().splitlines()[-1])
    return result


def test_the_heap_limits_apply_and_leave_findings_and_large_invoices_alone(
    artefacts_dir: Path, tmp_path: Path
) -> None:
    sized = _run(artefacts_dir, tmp_path, [16, 4], 5000)
    default = _run(artefacts_dir, tmp_path, None, 5000)
    assert sized["options"] == [16, 4]
    assert default["options"] is None
    assert sized["findings"] == default["findings"]
    assert sized["findings"][0] == []  # type: ignore[index]  # the base example is valid
    assert sized["findings"][1]  # type: ignore[index]  # the generated 5,000 lines keep the totals: findings
    assert sized["again"] is False  # the isolate exists: other limits cannot apply any more
    # The point of the limits: the capped process ends the run well below the uncapped one.
    assert int(sized["rss_kib"]) < int(default["rss_kib"]) - 40 * 1024  # type: ignore[call-overload]
