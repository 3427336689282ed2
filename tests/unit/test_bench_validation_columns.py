"""``gateway bench validation``: the documents the engine validates on its streamed path are measured
column by column in child processes whose Saxon heap holds that column only; the others in the bench's
process, in the same order as before (``gateway.bench.validation_columns``)."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from gateway.bench import validation as bench
from gateway.bench.validation import large_invoice
from gateway.bench.validation_columns import (
    best_of,
    measure_apart,
    measure_groups,
    measured_apart,
    run_order,
)
from gateway.config import Settings
from gateway.validation import DEFAULT_RULE_SET_ID, ValidationEngine

_BASE = "peppol-bis-billing-3.0.21/examples/base-example.xml"


def _settings(artefacts_dir: Path, engine: ValidationEngine) -> Settings:
    # The session engine's cache holds the generated stylesheets: a child process need not fuse again.
    return Settings(artefacts={"mirror": artefacts_dir, "cache_dir": engine.store.cache_dir})


def test_the_order_of_a_group_by_default_and_interleaved() -> None:
    assert run_order([0, 2], 2, ["a", "b"], interleave=False) == [
        (0, "a"), (2, "a"), (0, "b"), (2, "b"), (0, "a"), (2, "a"), (0, "b"), (2, "b"),
    ]  # fmt: skip
    assert run_order([0, 2], 2, ["a", "b"], interleave=True) == [
        (0, "a"), (0, "b"), (0, "a"), (0, "b"), (2, "a"), (2, "b"), (2, "a"), (2, "b"),
    ]  # fmt: skip
    assert run_order([], 3, ["a"], interleave=False) == []


def test_best_of_keeps_each_samples_minimum_after_a_pause_per_run(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr("gateway.bench.validation_columns.time.sleep", slept.append)
    runs = iter([{"a-total": 3.0, "cpu-a": 1.0}, {"a-total": 2.0, "cpu-a": 4.0}, {"a-total": 5.0}])

    best = best_of({"a": lambda _: next(runs)}, [b"x", b"y"], [(0, "a"), (0, "a"), (1, "a")], 0.01)

    assert best == [{"a-total": 2.0, "cpu-a": 1.0}, {"a-total": 5.0}]
    assert slept == [0.01] * 3


def test_streamed_documents_go_to_the_child_processes_all_at_once_the_others_stay() -> None:
    ran: list[tuple[str, bytes]] = []

    def column(name: str) -> Any:
        def run(document: bytes) -> dict[str, float]:
            ran.append((name, document))
            return {f"{name}-total": 0.001}

        return run

    asked: list[list[tuple[list[bytes], int]]] = []

    def apart(groups: list[tuple[list[bytes], int]]) -> list[list[dict[str, float]]]:
        asked.append(groups)
        return [[{"f-total": 9.0, "r-total": 8.0} for _ in documents] for documents, _ in groups]

    groups = [([b"s1", b"s2"], 2), ([b"L1"], 1), ([b"s3", b"L2"], 1)]
    measured = measure_groups(
        groups, {"f": column("f"), "r": column("r")}, far=[[], [0], [1]], apart=apart, interleave=False
    )

    first = next(measured)
    assert asked == []  # not before a group holds such a document
    assert first == [{"f-total": 0.001, "r-total": 0.001}] * 2
    assert ran == [("f", b"s1"), ("f", b"s2"), ("r", b"s1"), ("r", b"s2")] * 2
    ran.clear()
    rest = list(measured)
    assert asked == [[([], 2), ([b"L1"], 1), ([b"L2"], 1)]]  # once, for every group's
    assert rest == [
        [{"f-total": 9.0, "r-total": 8.0}],
        [{"f-total": 0.001, "r-total": 0.001}, {"f-total": 9.0, "r-total": 8.0}],
    ]
    assert ran == [("f", b"s3"), ("r", b"s3")]  # no streamed document ran in this process


def test_only_a_document_the_engine_streams_is_measured_apart(
    validation_engine: ValidationEngine, artefacts_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = (artefacts_dir / _BASE).read_bytes()
    large = large_invoice(base, 1000)
    assert len(large) >= validation_engine.stream_above_bytes
    invalid = large.replace(b"<cbc:IssueDate>", b"<cbc:Unknown/><cbc:IssueDate>", 1)

    assert measured_apart(large, validation_engine, DEFAULT_RULE_SET_ID)
    assert not measured_apart(base, validation_engine, DEFAULT_RULE_SET_ID)  # small: the tree path
    assert not measured_apart(invalid, validation_engine, DEFAULT_RULE_SET_ID)  # the pull parse refuses it
    monkeypatch.setattr(validation_engine, "stream_above_bytes", 0)
    assert not measured_apart(large, validation_engine, DEFAULT_RULE_SET_ID)  # never streams


def test_each_column_runs_in_its_own_child_with_the_job_it_needs(
    artefacts_dir: Path, validation_engine: ValidationEngine
) -> None:
    settings = _settings(artefacts_dir, validation_engine)
    jobs: list[dict[str, Any]] = []

    def run(command: list[str], check: bool) -> subprocess.CompletedProcess[bytes]:
        assert command[:3] == [sys.executable, "-m", "gateway.bench.validation_columns"]
        job = json.loads(Path(command[3]).read_text())
        jobs.append(job)
        documents = [[Path(p).read_bytes() for p in group["paths"]] for group in job["groups"]]
        assert documents == [[b"<a/>"], [b"<b/>", b"<c/>"]]
        assert Path(job["warm_up"]).read_bytes() == b"<w/>"
        name = job["column"]
        samples = [[{f"{name}-total": len(d) / 10} for d in group] for group in documents]
        Path(command[4]).write_text(json.dumps(samples))
        return subprocess.CompletedProcess(command, 0)

    found = measure_apart(
        settings, "rs", [([b"<a/>"], 2), ([b"<b/>", b"<c/>"], 1)], pause=0.5, warm_up=b"<w/>", run=run
    )

    assert [job["column"] for job in jobs] == ["fused", "official", "raw"]
    assert {(job["rule_set"], job["pause"]) for job in jobs} == {("rs", 0.5)}
    assert [group["repeat"] for group in jobs[0]["groups"]] == [2, 1]
    assert jobs[0]["artefacts"]["mirror"] == str(artefacts_dir)
    assert found == [
        [{"fused-total": 0.4, "official-total": 0.4, "raw-total": 0.4}],
        [{"fused-total": 0.4, "official-total": 0.4, "raw-total": 0.4}] * 2,
    ]

    def failed(command: list[str], check: bool) -> subprocess.CompletedProcess[bytes]:
        return subprocess.CompletedProcess(command, 3)

    with pytest.raises(RuntimeError, match="fused column's child process failed"):
        measure_apart(settings, "rs", [([b"<a/>"], 1)], run=failed)


def test_a_child_process_measures_its_column_alone(
    artefacts_dir: Path, validation_engine: ValidationEngine
) -> None:
    validation_engine.warm_up()
    base = (artefacts_dir / _BASE).read_bytes()
    large = large_invoice(base, 1000)

    found = measure_apart(
        _settings(artefacts_dir, validation_engine),
        DEFAULT_RULE_SET_ID,
        [([large], 1)],
        warm_up=base,
        columns=("fused", "raw"),
    )

    (sample,) = found[0]
    assert {key.split("-")[0] for key in sample if not key.startswith("cpu-")} == {"fused", "raw"}
    assert {
        "fused-total",
        "cpu-fused",
        "fused-xsd",
        "fused-cen",
        "raw-total",
        "cpu-raw",
        "raw-peppol",
    } <= set(sample)
    assert all(seconds > 0 for seconds in sample.values())


def test_the_bench_measures_a_streamed_document_apart_and_says_so(
    artefacts_dir: Path,
    validation_engine: ValidationEngine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    validation_engine.warm_up()
    base = (artefacts_dir / _BASE).read_bytes()
    (tmp_path / "small.xml").write_bytes(base)
    (tmp_path / "large.xml").write_bytes(large_invoice(base, 1000))
    asked: list[Any] = []

    def apart(settings: Settings, rule_set: str, groups: Any, **options: Any) -> list[list[dict[str, float]]]:
        asked.append(groups)
        return [
            [{"fused-total": 7.0, "raw-total": 7.0, "official-total": 7.0} for _ in docs]
            for docs, _ in groups
        ]

    monkeypatch.setattr(bench, "measure_apart", apart, raising=False)  # fails on what it prints without it
    args = argparse.Namespace(
        files=[tmp_path / "small.xml", tmp_path / "large.xml"],
        repeat=1,
        rules=None,
        lines=None,
        deep=0,
        notes=0,
        interleave=False,
        instructions=False,
        pause=0.0,
    )

    assert bench.run_bench_validation(args, _settings(artefacts_dir, validation_engine)) == 0

    out = capsys.readouterr().out
    assert asked == [[([(tmp_path / "large.xml").read_bytes()], 1)]]
    assert "each column in a child process of its own" in out
    assert "1 of given files (2)" in out
    # The median of the two documents' totals: the small one's few ms and the child's 7,000 ms.
    (total,) = [line for line in out.splitlines() if line.startswith("given files (2)") and " total " in line]
    fused_median = float(total.split()[4])
    assert 3000 < fused_median < 4000


def test_notes_invoice_holds_the_empty_notes() -> None:
    from lxml import etree

    from gateway.bench.validation import notes_invoice

    root = etree.fromstring(notes_invoice(40))
    notes = root.findall("{urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2}Note")
    assert len(notes) == len(root) == 40
    assert all(note.text is None for note in notes)
