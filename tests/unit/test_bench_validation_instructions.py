"""``gateway bench validation --instructions``: a callgrind child per column, a dump per validation."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from gateway.bench import validation as bench
from gateway.bench import validation_columns as columns
from gateway.bench.validation_instructions import count_instructions, dump_instructions
from gateway.config import Settings


def _dump(path: Path, instructions: int, *, key: str = "summary") -> None:
    path.write_text(f"version: 1\ncreator: callgrind-3.19.0\nevents: Ir\n{key}: {instructions}\n")


def test_each_column_is_counted_in_its_own_callgrind_child_a_dump_per_validation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    jobs: list[dict[str, Any]] = []
    # Per column, the counts of its validations in the child's order: document by document, each twice
    # (six documents: parts .2 to .13, so that .10 and over sort after .9).
    counts = {
        "fused": [9, 7, 30, 31, 5, 6, 1, 2, 3, 3, 8, 4],
        "official": [50, 40, 60, 60, 45, 44, 1, 1, 1, 1, 1, 1],
        "raw": [70, 71, 80, 90, 75, 70, 1, 1, 1, 1, 1, 1],
    }

    def run(command: list[str], check: bool, env: dict[str, str], capture_output: bool) -> Any:
        assert command[:3] == ["/opt/vg", "--tool=callgrind", "-q"]
        assert "--dump-before=clock_nanosleep*" in command
        assert "--separate-threads=no" in command
        out_file = next(c for c in command if c.startswith("--callgrind-out-file="))
        at = command.index(sys.executable)
        assert command[at : at + 3] == [sys.executable, "-m", "gateway.bench.validation_columns"]
        assert env["PYTHONHASHSEED"] == "0"
        assert "VALGRIND_OPTS" not in env
        job = json.loads(Path(command[at + 3]).read_text())
        jobs.append(job)
        assert job["marker"] is True
        assert Path(job["warm_up"]).read_bytes() == b"<w/>"
        assert [[Path(p).read_bytes() for p in group["paths"]] for group in job["groups"]] == [
            [b"<a/>", b"<b/>"],
            [b"<c/>", b"<d/>", b"<e/>", b"<f/>"],
        ]
        assert [group["repeat"] for group in job["groups"]] == [2, 2]
        dumps = Path(out_file.removeprefix("--callgrind-out-file="))
        _dump(dumps.with_name(dumps.name + ".1"), 10**9)  # the start-up
        for k, n in enumerate(counts[job["column"]], start=2):
            _dump(dumps.with_name(f"{dumps.name}.{k}"), n)
        _dump(dumps, 10**6)  # the exit
        Path(command[at + 4]).write_text("[]")
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setenv("VALGRIND_OPTS", "--collect-atstart=no")
    groups = [[b"<a/>", b"<b/>"], [b"<c/>", b"<d/>", b"<e/>", b"<f/>"]]
    found = count_instructions(Settings(), "rs", groups, warm_up=b"<w/>", valgrind="/opt/vg", run=run)

    assert [job["column"] for job in jobs] == ["fused", "official", "raw"]
    assert found == [
        [
            {"instructions-fused": 7, "instructions-official": 40, "instructions-raw": 70},
            {"instructions-fused": 30, "instructions-official": 60, "instructions-raw": 80},
        ],
        [
            {"instructions-fused": 5, "instructions-official": 44, "instructions-raw": 70},
            {"instructions-fused": 1, "instructions-official": 1, "instructions-raw": 1},
            {"instructions-fused": 3, "instructions-official": 1, "instructions-raw": 1},
            {"instructions-fused": 4, "instructions-official": 1, "instructions-raw": 1},
        ],
    ]


def test_a_dump_too_many_or_a_failed_child_is_an_error_not_a_figure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def extra_dump(command: list[str], **options: Any) -> Any:
        out_file = next(c for c in command if c.startswith("--callgrind-out-file="))
        dumps = Path(out_file.removeprefix("--callgrind-out-file="))
        for k in range(1, 5):  # one validation: 2 parts expected, 4 written
            _dump(dumps.with_name(f"{dumps.name}.{k}"), k)
        return subprocess.CompletedProcess(command, 0)

    with pytest.raises(
        RuntimeError, match="wrote 4 dumps for the fused column where 2 were expected: this Python"
    ):
        count_instructions(Settings(), "rs", [[b"<a/>"]], runs=1, valgrind="vg", run=extra_dump)

    def failed(command: list[str], **options: Any) -> Any:
        # With -q, the child's own last lines end its standard error.
        return subprocess.CompletedProcess(command, 1, b"", b"Traceback\n  ...\nRuntimeError: no rule set\n")

    with pytest.raises(
        RuntimeError, match=r"fused column's callgrind child failed .*RuntimeError: no rule set"
    ):
        count_instructions(Settings(), "rs", [[b"<a/>"]], valgrind="vg", run=failed)

    monkeypatch.setattr("shutil.which", lambda name: None)
    with pytest.raises(RuntimeError, match="needs valgrind on the PATH"):
        count_instructions(Settings(), "rs", [[b"<a/>"]])


def test_a_dump_is_read_from_its_summary_else_its_totals(tmp_path: Path) -> None:
    _dump(tmp_path / "a", 1234)
    _dump(tmp_path / "b", 5678, key="totals")
    (tmp_path / "c").write_text("events: Ir\n")

    assert (dump_instructions(tmp_path / "a"), dump_instructions(tmp_path / "b")) == (1234, 5678)
    with pytest.raises(RuntimeError, match="no instruction count"):
        dump_instructions(tmp_path / "c")


def test_a_marked_child_calls_the_marker_before_each_validation_and_after_the_last(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    monkeypatch.setattr(columns, "instruction_marker", lambda: calls.append("marker"))
    monkeypatch.setattr(
        columns, "build_column", lambda *a: lambda document: calls.append(document.decode()) or {}
    )
    files = columns.JobFiles.write(tmp_path, [([b"a", b"b"], 2), ([b"c"], 2)], b"w")
    job, out = files.job(Settings(), "rs", "fused", marker=True)

    assert columns.main([str(job), str(out)]) == 0

    assert calls == ["w"] + ["marker", "a"] * 2 + ["marker", "b"] * 2 + ["marker", "c"] * 2 + ["marker"]
    assert json.loads(out.read_text()) == [[{}, {}], [{}]]


def test_the_bench_prints_each_columns_median_and_the_ratios(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "a.xml").write_bytes(b"<a/>")
    (tmp_path / "b.xml").write_bytes(b"<b/>")
    (tmp_path / "c.xml").write_bytes(b"<c/>")
    asked: list[Any] = []

    def counted(
        settings: Settings, rule_set: str, documents: Any, **options: Any
    ) -> list[list[dict[str, int]]]:
        asked.append(documents)
        # fused/raw per document 0.2, 0.3, 0.5: median 0.3; the medians 20 M and 100 M: 0.2.
        return [
            [
                {"instructions-fused": f, "instructions-official": 90_000_000, "instructions-raw": r}
                for f, r in ((20_000_000, 100_000_000), (30_000_000, 100_000_000), (10_000_000, 20_000_000))
            ]
        ]

    monkeypatch.setattr(bench, "count_instructions", counted)
    args = argparse.Namespace(
        files=[tmp_path / "a.xml", tmp_path / "b.xml", tmp_path / "c.xml"],
        rules=None,
        lines=None,
        deep=0,
        notes=0,
        instructions=True,
    )

    assert bench.run_bench_validation(args, Settings()) == 0

    assert asked == [[[b"<a/>", b"<b/>", b"<c/>"]]]
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("given files (3)"))
    assert row.split()[3:] == ["20.00", "90.00", "100.00", "0.20", "0.30"]


def test_with_instructions_the_large_invoices_come_only_when_asked_for(
    artefacts_dir: Path, tmp_path: Path
) -> None:
    store = bench.build_artefact_store(Settings(artefacts={"mirror": artefacts_dir, "cache_dir": tmp_path}))
    asked = argparse.Namespace(files=[], lines=None, deep=0, notes=0, instructions=True)

    assert [lines for *_, lines in bench._groups(asked, store)[0]] == [0]
    asked.lines = [500]
    assert [lines for *_, lines in bench._groups(asked, store)[0]] == [0, 500]
    asked.instructions, asked.lines = False, None
    assert [lines for *_, lines in bench._groups(asked, store)[0]] == [0, 500, 5000]
