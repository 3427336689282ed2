"""The marker of ``gateway bench validation --instructions`` under the real callgrind: a dump per call."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.bench.validation_columns import INSTRUCTION_MARKER
from gateway.bench.validation_instructions import dump_instructions

pytestmark = pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind is not installed")


def test_callgrind_dumps_the_counts_of_each_stretch_between_two_markers(tmp_path: Path) -> None:
    # The child marks as validation_columns.instruction_marker does, around a long and a short stretch.
    child = "import time\ntime.sleep(0)\nsum(range(100_000))\ntime.sleep(0)\nsum(range(10))\ntime.sleep(0)\n"
    dumps = tmp_path / "callgrind.out"

    subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            f"--dump-before={INSTRUCTION_MARKER}",
            f"--callgrind-out-file={dumps}",
            sys.executable,
            "-I",
            "-c",
            child,
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )

    parts = sorted(tmp_path.glob("callgrind.out.*"), key=lambda p: int(p.suffix[1:]))
    assert [p.suffix for p in parts] == [".1", ".2", ".3"]  # start-up, then one per stretch
    long, short = dump_instructions(parts[1]), dump_instructions(parts[2])
    assert long > 1_000_000
    assert short < 100_000
