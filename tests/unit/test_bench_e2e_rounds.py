"""``gateway bench e2e --rounds N`` (``gateway.bench.e2e_rounds``): the grid runs N times, in the given
order on odd rounds and reversed on even ones (ABBA), and the summary pairs the 2- and 1-worker cells of the
same round. The cells are fakes: no process starts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gateway.bench import e2e, e2e_report, e2e_slow
from gateway.bench.e2e_report import E2EParameters, E2EResult, PhaseResult, format_table
from gateway.bench.e2e_rounds import cell_order, format_summary, summarise
from gateway.cli.main import main


def phase(throughput: float, *, delivered: int = 10) -> PhaseResult:
    return PhaseResult(
        posted=10,
        accepted=10,
        delivered=delivered,
        failed=10 - delivered,
        pending=0,
        seconds=10 / throughput,
        throughput=throughput,
        latency_p50_ms=40.0,
        latency_p99_ms=90.0,
        latency_max_ms=100.0,
        post_p50_ms=8.0,
        post_p99_ms=20.0,
        max_lag_ms=1.0,
    )


def cell(database: str, workers: int, throughput: float, cpu_ms: float, *, delivered: int = 10) -> E2EResult:
    """A cell whose saturation ran at ``throughput`` docs/s for ``cpu_ms`` ms per document in all."""
    return E2EResult(
        database=database,
        workers=workers,
        fixed_rate=phase(5.0),
        saturation=phase(throughput, delivered=delivered),
        cpu_ms_per_document={"serve": cpu_ms / 2, "workers": cpu_ms / 4, "receiver": cpu_ms / 4},
    )


def test_odd_rounds_run_the_given_order_and_even_rounds_the_reverse() -> None:
    cells = [("sqlite", 1), ("sqlite", 2), ("postgres", 1)]

    orders = [cell_order(cells, number) for number in range(1, 5)]

    assert orders == [cells, cells[::-1], cells, cells[::-1]]
    assert cells == [("sqlite", 1), ("sqlite", 2), ("postgres", 1)]  # not reversed in place
    with pytest.raises(ValueError, match="start at 1"):
        cell_order(cells, 0)


def test_the_ratio_pairs_the_two_cells_of_the_same_round_whatever_their_order() -> None:
    cells = [("postgres", 1), ("postgres", 2)]
    rounds = [  # as they ran: the second round reversed
        [cell("postgres", 1, 20.0, 40.0), cell("postgres", 2, 30.0, 60.0)],
        [cell("postgres", 2, 25.0, 50.0), cell("postgres", 1, 50.0, 44.0)],
        [cell("postgres", 1, 40.0, 42.0), cell("postgres", 2, 44.0, 70.0)],
    ]

    summary = summarise(cells, rounds)

    one, two = summary.cells
    assert (one.database, one.workers, one.throughputs) == ("postgres", 1, (20.0, 50.0, 40.0))
    assert (two.database, two.workers, two.throughputs) == ("postgres", 2, (30.0, 25.0, 44.0))
    assert (one.median_throughput, two.median_throughput) == (40.0, 30.0)
    assert one.cpu_ms == (40.0, 44.0, 42.0)
    assert (one.median_cpu_ms, two.median_cpu_ms) == (42.0, 60.0)
    (ratio,) = summary.ratios
    assert ratio.database == "postgres"
    assert ratio.per_round == pytest.approx((1.5, 0.5, 1.1))  # 30/20, 25/50, 44/40: within each round
    assert ratio.median == pytest.approx(1.1)  # not the ratio of the medians (30 / 40 = 0.75)
    as_json = json.loads(json.dumps(summary.as_json()))
    assert as_json["ratio_2_to_1_workers"][0]["per_round"] == pytest.approx([1.5, 0.5, 1.1])
    assert as_json["cells"][1]["median_saturation_docs_per_second"] == 30.0
    assert as_json["cells"][0]["median_cpu_ms_per_document"] == 42.0


def test_a_cell_not_all_delivered_counts_neither_in_its_median_nor_in_its_rounds_ratio() -> None:
    cells = [("sqlite", 1), ("sqlite", 2), ("postgres", 2)]  # postgres: no 1-worker cell, so no ratio
    rounds = [
        [cell("sqlite", 1, 40.0, 40.0), cell("sqlite", 2, 36.0, 50.0), cell("postgres", 2, 30.0, 60.0)],
        [
            cell("postgres", 2, 31.0, 61.0),
            cell("sqlite", 2, 99.0, 99.0, delivered=9),
            cell("sqlite", 1, 42.0, 40.0),
        ],
    ]

    summary = summarise(cells, rounds)

    assert summary.cells[1].throughputs == (36.0, None)
    assert summary.cells[1].median_throughput == 36.0
    assert summary.cells[1].cpu_ms == (50.0, None)
    (ratio,) = summary.ratios
    assert ratio.database == "sqlite"
    assert ratio.per_round == pytest.approx((0.9, None))
    assert ratio.median == pytest.approx(0.9)
    lines = format_summary(summary, 2)
    assert lines[0].startswith("summary over 2 rounds (ABBA")
    assert lines[4].split() == ["sqlite", "2", "36.00", "-", "36.00", "50.0", "-", "50.0"]
    assert lines[-1] == "sqlite    per round 0.90 -; median 0.90"


def fake_grid(
    monkeypatch: pytest.MonkeyPatch, rates: list[float], workdirs: list[Path] | None = None
) -> list[tuple[str, int]]:
    """Replace the cell runner: the n-th cell run gets ``rates[n]`` docs/s; returns the cells as run (and
    appends their workdirs to ``workdirs``)."""
    ran: list[tuple[str, int]] = []

    def run_e2e(*, database: str, workers: int, params: E2EParameters, workdir: Path, **_: Any) -> E2EResult:
        assert workdir.name == f"{database}-{workers}w"
        if workdirs is not None:
            workdirs.append(workdir)
        ran.append((database, workers))
        result = cell(database, workers, rates[len(ran) - 1], 10.0 * len(ran))
        result.wall_seconds = 1.0
        return result

    monkeypatch.setattr(e2e, "run_e2e", run_e2e)
    return ran


E2E = ["bench", "e2e", "--db", "postgres", "--workers", "1", "--workers", "2"]


def test_rounds_run_the_grid_abba_and_print_each_round_and_the_paired_summary(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # Runs: round 1 1w=20 2w=30; round 2 2w=25 1w=50; round 3 1w=40 2w=44; round 4 2w=33 1w=30.
    workdirs: list[Path] = []
    ran = fake_grid(monkeypatch, [20.0, 30.0, 25.0, 50.0, 40.0, 44.0, 33.0, 30.0], workdirs)

    code = main([*E2E, "--rounds", "4", "--workdir", str(tmp_path)])

    assert code == 0
    one, two = ("postgres", 1), ("postgres", 2)
    assert ran == [one, two, two, one, one, two, two, one]
    # Each round in its own directory: a later round does not wipe an earlier one's logs.
    assert [path.relative_to(tmp_path).parts[0] for path in workdirs] == [
        f"round-{number}" for number in (1, 1, 2, 2, 3, 3, 4, 4)
    ]
    out = capsys.readouterr().out
    assert out.count("gateway bench e2e on loopback") == 1
    assert "round 2 of 4: cells in reverse order" in out
    assert out.index("round 3 of 4: cells in the given order") < out.index("round 4 of 4")
    summary = out[out.index("summary over 4 rounds") :].splitlines()
    rates, cpu = ["20.00", "50.00", "40.00", "30.00", "35.00"], ["10.0", "40.0", "50.0", "80.0", "45.0"]
    assert summary[3].split() == ["postgres", "1", *rates, *cpu]  # per round as they ran, then the median
    # 30/20, 25/50, 44/40, 33/30: the median of the rounds' ratios (1.1 and 1.1 in the middle).
    assert summary[-1] == "postgres  per round 1.50 0.50 1.10 1.10; median 1.10"


def test_rounds_in_json_carry_each_cells_round_and_the_summary(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    fake_grid(monkeypatch, [20.0, 30.0, 25.0, 50.0])

    assert main([*E2E, "--rounds", "2", "--json", "--workdir", str(tmp_path)]) == 0

    figures = json.loads(capsys.readouterr().out)
    assert figures["parameters"]["rounds"] == 2
    assert len(figures["load_average_per_round"]) == 2
    ran = [(r["round"], r["workers"], r["saturation"]["throughput"]) for r in figures["results"]]
    assert ran == [(1, 1, 20.0), (1, 2, 30.0), (2, 2, 25.0), (2, 1, 50.0)]
    (ratio,) = figures["summary"]["ratio_2_to_1_workers"]
    assert ratio["per_round"] == pytest.approx([1.5, 0.5])
    assert ratio["median"] == pytest.approx(1.0)


def test_one_round_prints_the_table_and_the_json_as_before(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    fake_grid(monkeypatch, [20.0, 30.0, 20.0, 30.0])
    monkeypatch.setattr(e2e.os, "getloadavg", lambda: (1.25, 1.0, 1.0))

    assert main([*E2E, "--workdir", str(tmp_path)]) == 0
    table = capsys.readouterr().out
    assert main([*E2E, "--workdir", str(tmp_path), "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)

    expected = [cell("postgres", 1, 20.0, 10.0), cell("postgres", 2, 30.0, 20.0)]
    assert table == format_table(expected, E2EParameters(), cpus=e2e.os.cpu_count(), load=1.25) + "\n"
    assert "round" not in table
    assert "summary" not in table
    assert set(figures) == {"parameters", "results"}
    assert "rounds" not in figures["parameters"]
    assert [r["workers"] for r in figures["results"]] == [1, 2]
    assert "round" not in figures["results"][0]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--rounds", "0"], "--rounds must be positive"),
        (["--rounds", "2", "--workers", "1"], "--rounds above 1 needs each --db and --workers once"),
    ],
)
def test_bad_rounds_are_refused_before_anything_runs(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    extra: list[str],
    message: str,
) -> None:
    ran = fake_grid(monkeypatch, [20.0] * 8)

    assert main([*E2E, *extra, "--workdir", str(tmp_path)]) == 2

    assert message in capsys.readouterr().err
    assert ran == []


def test_both_e2e_benches_name_a_rounds_folder_by_the_one_rule(tmp_path: Path) -> None:
    """``bench e2e`` and ``bench e2e-slow`` each wrote the ``round-<n>`` rule of their own."""
    assert e2e.round_workdir(tmp_path, 1, 1) == tmp_path
    assert e2e.round_workdir(tmp_path, 3, 2) == tmp_path / "round-2"
    assert e2e_slow.scenario_workdir(tmp_path, 3, 2, 1) == e2e.round_workdir(tmp_path, 3, 2) / "s1"


def test_the_preamble_names_the_interpreter_every_process_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    # An optimised distribution build and a self-built one differ by ≈ 9 % in docs/s (README, *Which Python*).
    monkeypatch.setattr(e2e_report.sys, "executable", "/usr/bin/python3")
    monkeypatch.setattr(e2e_report.os.path, "realpath", lambda path: f"{path}.11")
    monkeypatch.setattr(e2e_report.platform, "python_version", lambda: "3.11.2")

    table = format_table([cell("sqlite", 1, 40.0, 30.0)], E2EParameters(), cpus=2, load=0.5)

    assert "  interpreter CPython 3.11.2 (/usr/bin/python3.11) (every process of the bench)\n" in table
