"""``gateway bench instructions --stages``: the stretches between marker calls summed per document and per
open stage, and the table."""

from __future__ import annotations

import pytest

from gateway.bench.instructions_stages import STAGES, format_stages, split


def test_a_stage_counts_every_stretch_while_it_is_open_nested_ones_in_both() -> None:
    events = [
        "doc",
        "+outer",
        "+inner",
        "-inner",
        "-outer",
        "doc",
        "+inner",
        "+inner",
        "-inner",
        "-inner",
        "end",
    ]
    parts = [1, 10, 100, 20, 2, 3, 300, 30, 3, 4]

    documents = split(parts, events)

    assert documents == [
        {"document": 133, "outer": 130, "inner": 100, "outer calls": 1, "inner calls": 1},
        {"document": 340, "inner": 333, "inner calls": 2},  # inside itself: once
    ]


def test_without_stages_each_stretch_is_a_document() -> None:
    assert split([7, 5, 6], ["doc", "doc", "doc", "end"]) == [
        {"document": 7},
        {"document": 5},
        {"document": 6},
    ]


@pytest.mark.parametrize(
    ("parts", "events", "message"),
    [
        ([1, 2], ["doc", "end"], "2 stretches for 2 marker calls"),
        ([1, 2], ["doc", "-a", "end"], "stage a left where it was not entered"),
        ([1, 2], ["+a", "doc", "end"], "before the first document"),
    ],
)
def test_events_that_do_not_fit_are_refused(parts: list[int], events: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        split(parts, events)


def test_the_table_gives_each_stage_its_median_and_calls_and_a_dash_where_a_tree_has_none() -> None:
    docs = [
        {"document": 30_000_000, "validation": 15_000_000, "validation calls": 1},
        {"document": 32_000_000, "validation": 17_000_000, "validation calls": 1},
    ]
    older = [{"document": 31_000_000}, {"document": 31_000_000}]

    lines = format_stages({"sender": {"main": docs, "old": older}}, ["main", "old"]).splitlines()

    assert lines[0].split() == ["sender", "(inclusive,", "M)", "main", "old"]
    assert [line.split()[0] for line in lines[1:-1]] == [stage.split()[0] for stage, _ in STAGES["sender"]]
    assert lines[-2].split() == ["validation", "16.00", "[1]", "-"]
    assert lines[-1].split() == ["whole", "document", "31.00", "31.00"]
