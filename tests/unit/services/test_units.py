"""Production units as data: CSV and JSON files, unit codes and their keys."""

from __future__ import annotations

import json
import re

import pytest

from gateway.errors import InvalidExpenseRequest
from gateway.model.units import ProductionUnit, unit_key
from gateway.services.units import parse_units, unit_from_mapping

CSV = b"""code,name,active,members
PU-04711,Schrijnwerkerij De Eik,true,an;jan
pu 00123,Bakkerij Het Graan,no,
"""


def test_unit_keys_tolerate_case_blanks_and_the_dash() -> None:
    assert {unit_key(c) for c in ("PU-04711", "pu04711", "Pu 04711", " PU-04711 ")} == {"PU04711"}
    for bad in ("", "04711", "PU-", "PU-04711-2", "P U 1"):
        with pytest.raises(InvalidExpenseRequest):
            unit_key(bad)


def test_csv_and_json_files() -> None:
    units = parse_units(CSV, filename="units.csv")
    assert units == [
        ProductionUnit("PU-04711", "Schrijnwerkerij De Eik", True, ("an", "jan")),
        ProductionUnit("pu 00123", "Bakkerij Het Graan", False, ()),
    ]
    assert [u.key for u in units] == ["PU04711", "PU00123"]
    data = json.dumps([{"code": "PU-1", "name": "One", "members": ["x"]}, {"code": "AT-2", "name": "Two"}])
    assert parse_units(data.encode(), filename="u.json") == [
        ProductionUnit("PU-1", "One", True, ("x",)),
        ProductionUnit("AT-2", "Two", True, ()),
    ]


@pytest.mark.parametrize(
    ("data", "filename", "message"),
    [
        (b"code,name\nPU-1,\n", "u.csv", "u.csv line 2: a unit needs a code and a name"),
        (b"code,name\nXX,Name\n", "u.csv", "unit code 'XX' is not letters followed by digits"),
        (b"code,name,active\nPU-1,A,maybe\n", "u.csv", "active must be true or false"),
        (b"code,name\nPU-1,A\npu1,B\n", "u.csv", "units named twice: PU1"),
        (b"code,name,members\nPU-1,A,an;jan; an\n", "u.csv", "u.csv line 2: members named twice: 'an'"),
        (
            b'[{"code": "PU-1", "name": "A", "members": ["jan", "an", "jan", "an"]}]',
            "u.json",
            "u.json item 1: members named twice: 'an', 'jan'",
        ),
        (b"{", "u.json", "not JSON"),
        # nested deeper than the reader goes: refused by name, not a RecursionError out of the CLI
        (b"[" * 100_000 + b"]" * 100_000, "u.json", "u.json: not JSON \\(nested too deeply"),
        (b'{"code": "PU-1"}', "u.json", "expected a list of units"),
        (b'[{"code": "PU-1", "name": "A", "members": "x"}]', "u.json", None),
        (b'[{"code": "PU-1", "name": "A", "members": [1]}]', "u.json", "members must be a list of names"),
        (b"\xff\xfe", "u.csv", "not UTF-8"),
        # a repeated key: which name would count? (the API's rule for JSON bodies)
        (b'[{"code": "PU-1", "name": "A", "name": "B"}]', "u.json", r"duplicate key 'name' at /0/name"),
    ],
)
def test_bad_files_are_refused_by_name(data: bytes, filename: str, message: str | None) -> None:
    if message is None:  # a single name as a string is accepted (the CSV form)
        assert parse_units(data, filename=filename)[0].members == ("x",)
        return
    with pytest.raises(InvalidExpenseRequest, match=message):
        parse_units(data, filename=filename)


def test_member_names_compare_exactly_as_members_are_matched() -> None:
    """A member is matched by its API key's or person's name, case and all: ``An`` and ``an`` are two
    principals, both kept; only the same name twice is refused."""
    data = b'[{"code": "PU-1", "name": "A", "members": ["An", "an"]}]'
    assert parse_units(data, filename="u.json")[0].members == ("An", "an")


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"code": "PU-1", "name": "\u200b\ufeff"}, "item 1: the name has no visible character"),
        ({"code": "PU-1", "name": "De\x07Eik"}, "item 1: the name holds a control character"),
        ({"code": "PU-1", "name": "A", "members": ["\u2060"]}, "item 1: member '\\u2060' has no visible"),
        ({"code": "PU-1", "name": "A", "members": ["a\x1bn"]}, "item 1: member 'a\\x1bn' holds a control"),
    ],
)
def test_a_name_or_member_with_nothing_visible_or_a_control_is_refused(
    row: dict[str, object], message: str
) -> None:
    """A units file reaches the workflow without the API's schema: a name of zero-width characters showed
    as an empty line on the pages, a member of one could never log in, a control broke the page's text."""
    with pytest.raises(InvalidExpenseRequest, match="^" + re.escape(f"u.json {message}")):
        parse_units(json.dumps([row]).encode(), filename="u.json")


def test_the_units_and_the_workflow_refuse_free_text_in_the_same_words() -> None:
    """The units file's names and members were checked by a twin of the workflow's check, each with its own
    messages: a unit name told less than a reject reason."""
    row = {"code": "PU-1", "name": "A", "members": ["\u2060"]}
    with pytest.raises(InvalidExpenseRequest) as refused:
        unit_from_mapping(row, "item 1: ")
    assert str(refused.value) == (
        "item 1: member '\\u2060' has no visible character (only blanks or invisible ones such as U+200B)"
    )
