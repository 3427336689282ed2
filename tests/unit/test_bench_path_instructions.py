"""``gateway bench instructions``: the probe children's commands, the dumps read per document, the table,
the arguments (callgrind itself is not run: ``tests/integration/test_bench_path_probes.py`` runs the
probes without it)."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from gateway.bench import instructions
from gateway.bench.e2e_report import DEFAULT_TEMPLATE
from gateway.bench.instructions import (
    PROBE,
    Summary,
    Tree,
    check_answer,
    count_path,
    format_table,
    stretch_counts,
)
from gateway.cli.main import build_parser
from gateway.config import PROJECT_ROOT, Settings


def _dump(path: Path, instructions: int, *, key: str = "summary") -> None:
    path.write_text(f"version: 1\ncreator: callgrind-3.19.0\nevents: Ir\n{key}: {instructions}\n")


def test_the_dumps_after_the_first_are_the_documents_in_numeric_order(tmp_path: Path) -> None:
    _dump(tmp_path / "cg.out.1", 10**9)  # start-up and warm-up
    for k, n in enumerate([5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15], start=2):  # .10 to .12 after .9
        _dump(tmp_path / f"cg.out.{k}", n, key="totals" if k == 3 else "summary")
    _dump(tmp_path / "cg.out", 10**6)  # the exit's, not read

    assert stretch_counts(tmp_path, "cg.out", 11, path="sender") == [5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cg.out"]  # each part removed once read


def test_another_number_of_dumps_than_documents_is_refused(tmp_path: Path) -> None:
    for k in (1, 2, 3, 4):
        _dump(tmp_path / f"cg.out.{k}", k)

    with pytest.raises(RuntimeError, match="4 dumps for the worker path where 3 were expected"):
        stretch_counts(tmp_path, "cg.out", 2, path="worker")


def test_a_summary_is_the_median_and_the_range_in_millions() -> None:
    summary = Summary.of([33_100_000, 32_500_000, 34_000_000, 33_300_000])

    assert (summary.median, summary.low, summary.high) == (33_200_000, 32_500_000, 34_000_000)
    assert str(summary) == "33.20 (32.50-34.00)"


def test_the_table_prints_each_reference_beside_this_checkout_with_the_total_of_the_medians() -> None:
    found = {
        "sender": {"this checkout": Summary(30e6, 29_000_000, 31_000_000), "/ref": Summary(33e6, 32e6, 34e6)},
        "receiver": {"this checkout": Summary(50e6, 49e6, 51e6), "/ref": Summary(50e6, 50e6, 50e6)},
    }

    lines = format_table(found, ["this checkout", "/ref"]).splitlines()

    assert lines[0].split() == ["path", "this", "checkout", "/ref"]
    assert lines[1].split() == ["sender", "30.00", "(29.00-31.00)", "33.00", "(32.00-34.00)", "+10.00", "%"]
    assert lines[2].split() == ["receiver", "50.00", "(49.00-51.00)", "50.00", "(50.00-50.00)", "+0.00", "%"]
    assert lines[3].split() == ["total", "80.00", "83.00", "+3.75", "%"]


def test_a_document_that_did_not_end_as_the_path_wants_or_a_marker_too_many_is_refused() -> None:
    check_answer(
        "worker", {"ended": ["delivered"] * 3, "events": ["doc", "doc", "end"]}, warm_up=1, documents=2
    )

    retrying = {"ended": ["delivered", "retrying", "delivered"], "events": ["doc", "doc", "end"]}
    with pytest.raises(RuntimeError, match="ended as"):
        check_answer("worker", retrying, warm_up=1, documents=2)
    invalid_warm_up = {"ended": ["invalid", "valid", "valid"], "events": ["doc", "doc", "end"]}
    with pytest.raises(RuntimeError, match="ended as"):  # the warm-up's documents too
        check_answer("receiver", invalid_warm_up, warm_up=1, documents=2)
    three = {"ended": ["accepted"] * 3, "events": ["doc", "doc", "doc", "end"]}
    with pytest.raises(RuntimeError, match="called the marker 4 times for 2 documents"):
        check_answer("sender", three, warm_up=1, documents=2)
    unfinished = {"ended": ["accepted"] * 3, "events": ["doc", "doc"]}
    with pytest.raises(RuntimeError, match="called the marker 2 times for 2 documents"):
        check_answer("sender", unfinished, warm_up=1, documents=2)
    staged = {"ended": ["accepted"] * 3, "events": ["doc", "+a", "-a", "doc", "+a", "-a", "end"]}
    check_answer("sender", staged, warm_up=1, documents=2, stages=True)
    with pytest.raises(RuntimeError, match="called the marker 7 times for 2 documents"):
        check_answer("sender", staged, warm_up=1, documents=2)  # a stage's markers without --stages


def test_a_path_is_prepared_without_valgrind_then_counted_under_callgrind_with_the_trees_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    commands: list[tuple[list[str], dict[str, str], Path]] = []
    reference = tmp_path / "ref"

    def run(command: list[str], check: bool, env: dict[str, str], cwd: Path, capture_output: bool) -> Any:
        commands.append((command, env, cwd))
        at = command.index(sys.executable)
        assert command[at:at + 3] == [sys.executable, "-P", str(PROBE)]  # fmt: skip
        step, job = command[at + 3], json.loads(Path(command[at + 4]).read_text())
        assert (job["path"], job["warm_up"], job["documents"]) == ("sender", 1, 2)
        if step == "prepare":
            assert at == 0  # not under valgrind
            prepared = {"sender_env": {"GATEWAY_X": "s"}, "receiver_env": {"GATEWAY_X": "r"}}
            Path(job["out"]).write_text(json.dumps({**prepared, "receiver_dir": "-"}))
        else:
            assert step == "count"
            assert command[:3] == ["/opt/vg", "--tool=callgrind", "-q"]
            assert "--dump-before=clock_nanosleep*" in command
            assert "--separate-threads=no" in command
            assert job["process_env"] == {"GATEWAY_X": "s"}
            out = Path(next(c for c in command if c.startswith("--callgrind-out-file=")).split("=", 1)[1])
            for k, n in enumerate([10**9, 7, 5], start=1):
                _dump(out.with_name(f"{out.name}.{k}"), n)
            _dump(out, 10**6)
            answer = {"ended": ["accepted"] * 3, "events": ["doc", "doc", "end"], "missing": []}
            Path(job["out"]).write_text(json.dumps(answer))
        return subprocess.CompletedProcess(command, 0, b"", b"")

    monkeypatch.setenv("VALGRIND_OPTS", "--collect-atstart=no")
    monkeypatch.setenv("GATEWAY_DATABASE__URL", "sqlite:///elsewhere.db")
    monkeypatch.setenv("GATEWAY_ARTEFACTS__MIRROR", "/mirror")

    counts = count_path(
        "sender", Tree("ref", reference), documents=2, warm_up=1, template=DEFAULT_TEMPLATE,
        valgrind="/opt/vg", run=run,
    )  # fmt: skip

    assert counts == [{"document": 7}, {"document": 5}]
    assert len(commands) == 2
    for _, env, cwd in commands:
        assert env["PYTHONPATH"] == str(reference)
        assert env["PYTHONHASHSEED"] == "0"
        assert "VALGRIND_OPTS" not in env
        assert "GATEWAY_DATABASE__URL" not in env  # each access point gets its own
        assert env["GATEWAY_ARTEFACTS__MIRROR"] == "/mirror"
        assert not cwd.exists()  # the temporary folder is gone


def test_a_failed_child_is_reported_with_its_last_lines(tmp_path: Path) -> None:
    def run(command: list[str], **_: Any) -> Any:
        return subprocess.CompletedProcess(command, 1, b"", b"Traceback\n  ...\nImportError: no gateway.x\n")

    with pytest.raises(
        RuntimeError, match=r"receiver path's prepare child failed .*ImportError: no gateway\.x"
    ):
        count_path(
            "receiver", Tree("x", tmp_path), documents=2, warm_up=1, template=DEFAULT_TEMPLATE,
            valgrind="/opt/vg", run=run,
        )  # fmt: skip


def _args(argv: list[str]) -> argparse.Namespace:
    return build_parser([]).parse_args(["bench", "instructions", *argv])


def test_the_arguments_default_to_every_path_eight_documents_three_warm_up() -> None:
    args = _args([])

    assert args.func is instructions.run_bench_instructions
    assert (args.path, args.documents, args.warm_up, args.reference, args.stages) == (None, 8, 3, None, False)
    args = _args(["--path", "worker", "--path", "sender", "--reference", "/a", "--reference", "/b"])
    assert args.path == ["worker", "sender"]
    assert args.reference == [Path("/a"), Path("/b")]


@pytest.mark.parametrize("argv", [["--documents", "0"], ["--warm-up", "-1"], ["--path", "api"]])
def test_impossible_arguments_are_refused(argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        _args(argv)


def test_without_valgrind_the_bench_says_so_and_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(instructions.shutil, "which", lambda name: None)

    assert instructions.run_bench_instructions(_args([]), Settings()) == 2
    assert "valgrind is not on the PATH" in capsys.readouterr().err


def test_a_reference_without_a_gateway_package_exits_2_before_counting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(instructions.shutil, "which", lambda name: "/opt/vg")
    monkeypatch.setattr(instructions, "count_path", lambda *a, **k: pytest.fail("counted"))

    assert instructions.run_bench_instructions(_args(["--reference", str(tmp_path)]), Settings()) == 2
    assert "holds no gateway package" in capsys.readouterr().err


def test_the_paths_are_counted_in_the_printed_order_each_in_every_tree(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    counted: list[tuple[str, str]] = []

    def count(path: str, tree: Tree, **kwargs: Any) -> list[dict[str, int]]:
        counted.append((path, tree.label))
        assert kwargs["valgrind"] == "/opt/vg"
        assert kwargs["stages"] is False
        return [{"document": 10_000_000}, {"document": 12_000_000}]

    monkeypatch.setattr(instructions.shutil, "which", lambda name: "/opt/vg")
    monkeypatch.setattr(instructions, "count_path", count)

    args = _args(["--path", "receiver", "--path", "sender", "--reference", str(PROJECT_ROOT)])
    assert instructions.run_bench_instructions(args, Settings()) == 0

    assert counted == [
        ("sender", "this checkout"),
        ("sender", str(PROJECT_ROOT)),
        ("receiver", "this checkout"),
        ("receiver", str(PROJECT_ROOT)),
    ]
    last = capsys.readouterr().out.splitlines()[-1].split()
    assert last == ["total", "22.00", "22.00", "+0.00", "%"]
