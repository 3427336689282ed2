"""The probes of ``gateway bench instructions`` run for real, without valgrind: under callgrind one path
takes minutes on these machines (the sender's 1 + 2 documents: four minutes), so the test runs the same
children natively. Each path's documents must end as the path's (accepted, delivered to a receiving
``gateway serve``, received valid) and the marker must be called once before each counted document and
once after the last, and with ``--stages`` on each stage's entry and exit too (``count_path`` checks
both: ``check_answer``)."""

from __future__ import annotations

import pytest

from gateway.bench.e2e_report import DEFAULT_TEMPLATE
from gateway.bench.instructions import Tree, count_path
from gateway.config import PROJECT_ROOT

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    ("path", "stages"), [("sender", False), ("worker", False), ("receiver", False), ("receiver", True)]
)
def test_the_probe_runs_its_documents_to_the_end_a_marker_before_each(
    path: str, stages: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    counts = count_path(
        path, Tree("this checkout", PROJECT_ROOT), documents=2, warm_up=1, template=DEFAULT_TEMPLATE,
        valgrind=None, stages=stages,
    )  # fmt: skip

    assert counts == []  # nothing counted without valgrind; the checks passed
    assert "has no function" not in capsys.readouterr().err  # every stage found
