"""Smoke test of ``gateway bench abuse`` with tiny parameters: the real ``gateway serve`` on loopback goes
through every phase, the report carries every figure beside its target, and the targets are met."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.bench.abuse import AbuseParameters, run_abuse

pytestmark = pytest.mark.slow


def test_tiny_abuse_run_prints_every_figure_and_meets_the_targets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    params = AbuseParameters(
        big_mb=1,
        big_parallel=2,
        slow_clients=40,
        slow_hold_seconds=0.5,
        junk_requests=40,
        invented_methods=40,
    )

    code = run_abuse(params, tmp_path / "abuse")

    out = capsys.readouterr().out
    for phase in ("large bodies", "slow / half-open clients", "junk AS4", "invented methods"):
        assert phase in out
    assert "convert-no-key declared -> 401: 2" in out
    for figure in ("RSS growth", "/healthz slowest", "DB growth per junk request", "open descriptors"):
        assert figure in out
    assert code == 0, out
