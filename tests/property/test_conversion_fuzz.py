"""Fuzzing the one conversion path: a sample document with hostile values put anywhere (huge or tiny
numbers, characters XML cannot carry, wrong types, long text) is either converted to well-formed UBL or
refused with InvalidDocumentData / MappingError (a 422 on the API), never any other exception."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from gateway.errors import InvalidDocumentData, MappingError
from gateway.services.conversion import convert_to_ubl, parse_document_json

DOCUMENTS = Path(__file__).parents[1] / "data" / "documents"
SAMPLES = [
    json.loads((DOCUMENTS / f"{name}.json").read_text(encoding="utf-8"))
    for name in ("be-domestic-mixed-rates", "eu-intra-community-goods-de", "credit-note")
]

numbers = st.one_of(
    st.sampled_from(
        ["1e25", "1E+26", "-1e30", "1e999999", "1E-999999", "NaN", "Infinity", "-0", "0." + "0" * 20 + "1"]
    ),
    st.decimals(allow_nan=False, allow_infinity=False).map(str),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=False, allow_infinity=False),
)
texts = st.one_of(
    st.sampled_from(["", " ", "\u0000", "a\u0001b", "\ufffe", "\uffff", "x" * 5000, "\ud800"]),
    st.text(max_size=30),
)
hostile = st.one_of(numbers, texts, st.none(), st.booleans(), st.just([]), st.just({}))


def leaf_paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(node, dict):
        return [p for key, value in node.items() for p in leaf_paths(value, (*prefix, key))]
    if isinstance(node, list):
        return [p for index, value in enumerate(node) for p in leaf_paths(value, (*prefix, index))]
    return [prefix]


def replaced(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    copy = json.loads(json.dumps(document))
    target = copy
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return copy


@st.composite
def mutated_documents(draw: st.DrawFn) -> bytes:
    document = draw(st.sampled_from(SAMPLES))
    paths = leaf_paths(document)
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        document = replaced(document, draw(st.sampled_from(paths)), draw(hostile))
    return json.dumps(document).encode()


@given(body=mutated_documents())
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_conversion_converts_or_refuses_with_a_reason(body: bytes) -> None:
    problems: list[str] = []
    try:
        converted = convert_to_ubl(parse_document_json(body))
    except InvalidDocumentData as exc:
        problems = exc.problems
    except MappingError as exc:
        problems = [str(exc)]
    else:
        assert etree.fromstring(converted.ubl) is not None
        return
    assert problems
    assert all(problem.strip() for problem in problems)
