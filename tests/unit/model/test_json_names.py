"""The duplicate-key rule of every JSON request body (``gateway.model.json_names``): each repeated name at
any depth, where it is, in document order; nothing for a body without one; None for one the standard
library cannot read (the model parser answers it)."""

from __future__ import annotations

import json

import pytest

from gateway.model.json_names import (
    MOST_REPORTED,
    SHOWN_CHARACTERS,
    RepeatedName,
    loads_checked,
    repeated_names,
)


def test_a_body_without_a_repeated_name_has_none() -> None:
    body = {"a": [{"a": 1}, {"a": 2}], "b": {"a": {"a": None}}, "c": "a", "d": "NaN"}
    text = json.dumps(body).replace('"NaN"', "NaN").replace('"c"', '"e": ' + "1" * 5000 + ', "c"')
    assert repeated_names(text.encode()) == []  # a literal the model parser judges is no concern here


def test_each_repeated_name_is_found_at_any_depth_in_document_order() -> None:
    body = b'{"a": 1, "b": {"c": [{"x": 1, "x": 2}], "c": 3}, "a": [], "d": [[{"e": 0, "f": 0, "e": 0}]]}'
    assert repeated_names(body) == [
        RepeatedName("x", ("b", "c", 0, "x")),
        RepeatedName("c", ("b", "c")),
        RepeatedName("a", ("a",)),
        RepeatedName("e", ("d", 0, 0, "e")),
    ]


def test_equal_values_and_names_written_with_escapes_count_too() -> None:
    # "same value" is no excuse (a reader may still differ), and an escape is only a spelling of the name.
    assert repeated_names(b'{"a": 1, "a": 1}') == [RepeatedName("a", ("a",))]
    assert repeated_names(b'{"\\u00e9": 1, "\xc3\xa9": 2}') == [RepeatedName("\u00e9", ("\u00e9",))]


def test_the_place_is_a_json_pointer_and_a_dotted_location() -> None:
    [found] = repeated_names(b'[0, {"a/b~c": {"d.e": 1, "d.e": 2}}]') or []
    assert found.pointer == "/1/a~1b~0c/d.e"
    assert found.location == "1.a/b~c.d.e"
    assert found.message.startswith("duplicate key 'd.e' at /1/a~1b~0c/d.e: ")


def test_a_repeated_lone_surrogate_is_named_by_its_escape() -> None:
    # A name may escape a lone surrogate; UTF-8 cannot carry one, so an answer naming it raw could not be
    # written (the route answered 500).
    [found] = repeated_names(b'{"x": {"\\ud800": 1, "\\ud800": 2}}') or []
    assert (found.pointer, found.location) == ("/x/\\ud800", "x.\\ud800")
    assert found.message.startswith("duplicate key '\\ud800' at /x/\\ud800: ")
    found.message.encode("utf-8")


def test_what_is_reported_is_bounded() -> None:
    many = b"{" + b", ".join(b'"k": %d' % i for i in range(1000)) + b"}"
    assert len(repeated_names(many) or []) == MOST_REPORTED
    long = "n" * 100_000
    [found] = repeated_names(json.dumps({long: 1}).replace("}", f', "{long}": 2}}')) or []
    assert len(found.message) < 3 * SHOWN_CHARACTERS


@pytest.mark.parametrize("body", [b"", b"{", b'{"a": 1}}', b'"\xff"', b"[" * 100_000 + b"]" * 100_000])
def test_a_body_the_reader_cannot_read_is_left_to_the_model_parser(body: bytes) -> None:
    assert repeated_names(body) is None


@pytest.mark.parametrize(
    "body",
    [
        b'{"a": 1, "a": 2} x',
        b'[{"a": 1, "a": 2}, ',
        b'[{"a": 1, "a": 2}, ' + b"[" * 100_000 + b"]" * 100_000 + b"]",
    ],
)
def test_a_repeated_name_before_a_malformation_leaves_the_body_to_the_model_parser(body: bytes) -> None:
    # The body is not JSON at all: answered as malformed (by the model parser), never an error here.
    assert repeated_names(body) is None


def test_nesting_as_deep_as_the_reader_allows_is_walked_without_the_python_stack() -> None:
    depth = 900
    body = b'{"a": ' * depth + b'{"z": 1, "z": 2}' + b"}" * depth
    [found] = repeated_names(body) or []
    assert found.path == ("a",) * depth + ("z",)


def test_loads_checked_reads_once_and_names_what_repeats() -> None:
    assert loads_checked(b'[{"a": 1, "b": [2.5, {"c": null}]}]') == ([{"a": 1, "b": [2.5, {"c": None}]}], [])
    value, repeated = loads_checked('{"x": {"a": 1, "a": 2}}')
    assert value == {"x": {"a": 2}}  # the last value, as json.loads
    assert repeated == [RepeatedName("a", ("x", "a"))]


@pytest.mark.parametrize("body", [b"{", b"[" * 100_000 + b"]" * 100_000])
def test_loads_checked_raises_value_error_for_what_it_cannot_read(body: bytes) -> None:
    with pytest.raises(ValueError, match=r"Expecting|nested too deeply"):
        loads_checked(body)
