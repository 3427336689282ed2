"""``gateway bench e2e-slow`` rotates its scenarios' order per round, and each result lands in its own row
(paired with its own round's baseline) whatever position it ran in. The scenario runs are faked."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest

from gateway.bench import e2e_slow
from gateway.bench.e2e_slow import scenario_order
from gateway.bench.e2e_slow_report import Scenario, ScenarioResult, format_slow_table
from gateway.cli.main import main


def test_over_as_many_rounds_as_scenarios_each_runs_once_in_every_position() -> None:
    orders = [scenario_order(4, number) for number in range(1, 5)]

    assert orders[0] == [0, 1, 2, 3]  # the table's order first
    assert orders == [[0, 1, 2, 3], [1, 2, 3, 0], [2, 3, 0, 1], [3, 0, 1, 2]]
    for position in range(4):
        assert sorted(order[position] for order in orders) == [0, 1, 2, 3]
    assert scenario_order(4, 5) == orders[0]  # and round again


def test_each_round_runs_every_scenario_in_the_rotated_order_and_pairs_it_with_its_baseline(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    ran: list[str] = []
    rate = {"baseline": 40.0, "after": 36.0, "never": 30.0, "no per-endpoint": 20.0}

    def run_scenario(scenario: Scenario, *, workdir: Path, **_: Any) -> ScenarioResult:
        ran.append(scenario.label)
        key = next(k for k in rate if k in scenario.label)
        rounds_done = sum(1 for label in ran if label == scenario.label)
        # Each later round twice as fast for every scenario: only a pairing within the round gives the
        # same share in every round.
        result = ScenarioResult(scenario, fast_documents=90, fast_delivered=90)
        result.fast_seconds = 90 / (rate[key] * 2 ** (rounds_done - 1))
        return result

    monkeypatch.setattr(e2e_slow, "run_scenario", run_scenario)

    code = main(["bench", "e2e-slow", "--rounds", "2", "--documents", "100", "--workdir", str(tmp_path)])

    labels = [s.label for s in e2e_slow.scenarios(10.0, 20)]
    assert ran == [*labels, *labels[1:], labels[0]]
    out = capsys.readouterr().out
    rows = {line[:44].strip(): line for line in out.splitlines() if line[:44].strip() in labels}
    assert rows[labels[1]].split()[-2] == "90%"  # 36 / 40 in both rounds
    assert rows[labels[2]].split()[-2] == "75%"
    assert code == 1  # the silent row is under 90 %


@pytest.mark.parametrize(
    ("rounds", "expected"),
    [
        (2, [f"round-{n}/s{k}" for n, order in ((1, "0123"), (2, "1230")) for k in order]),
        (1, ["s0", "s1", "s2", "s3"]),
    ],
)
def test_every_round_keeps_its_logs_in_a_folder_of_its_own(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    rounds: int,
    expected: list[str],
) -> None:
    """Folders named by round and table row, as ``bench e2e --rounds`` does: a later round does not
    recreate (and so erase) an earlier one's logs; each progress line says where its logs are."""
    folders: list[Path] = []

    def run_scenario(scenario: Scenario, *, workdir: Path, **_: Any) -> ScenarioResult:
        folders.append(workdir)
        return ScenarioResult(scenario, fast_documents=90, fast_delivered=90)

    monkeypatch.setattr(e2e_slow, "run_scenario", run_scenario)

    argv = ["bench", "e2e-slow", "--rounds", str(rounds), "--documents", "100", "--workdir", str(tmp_path)]
    main(argv)

    assert [folder.relative_to(tmp_path).as_posix() for folder in folders] == expected
    progress = capsys.readouterr().err.splitlines()
    assert len(progress) == len(expected)
    assert all(line.endswith(f"(logs: {folder})") for line, folder in zip(progress, folders, strict=True))


def test_the_table_stays_aligned_with_four_rounds_of_three_digit_rates() -> None:
    runs = []
    for scenario in e2e_slow.scenarios(10.0, 20):
        results = []
        for _ in range(4):
            result = ScenarioResult(scenario, fast_documents=900, fast_delivered=900)
            result.fast_seconds = 900 / 123.4
            results.append(result)
        runs.append(results)
    args = argparse.Namespace(db="sqlite", workers=1, documents=1000, send_timeout=30, rounds=4)

    lines = format_slow_table(runs, 20, 4, args).splitlines()

    header = next(line for line in lines if line.startswith("scenario"))
    rows = [line for line in lines if "123.4 123.4 123.4 123.4" in line]
    assert len(rows) == 4
    assert all(len(row) == len(header) for row in rows)  # every column right-aligned under its heading
    assert all(row.index("123.4") > header.index("delivered") for row in rows)
