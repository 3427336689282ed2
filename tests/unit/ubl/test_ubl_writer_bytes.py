"""The text UBL writer gives, byte for byte, what the lxml writer it replaced gave (``lxml_writer_oracle``),
and refuses what it refused with the same error: over every JSON test document (as posted and completed),
every official example and artefact file ``read_ubl`` takes (as read and completed), variants of them
with awkward text in every free-text field and attribute the model takes, with optionals left out, as
credit notes, with many lines, and generated documents."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from pydantic import TypeAdapter, ValidationError

from gateway.errors import GatewayError, MappingError
from gateway.model import CreditNote, Document, Invoice, complete_document, fill_amounts
from gateway.ubl import read_ubl, write_ubl
from tests.property.test_ubl_roundtrip import document
from tests.unit.ubl import lxml_writer_oracle

DOCUMENTS = Path(__file__).resolve().parents[2] / "data" / "documents"
ARTEFACTS = Path(__file__).resolve().parents[3].parent / "shared" / "artefacts"
ADAPTER: TypeAdapter[Invoice | CreditNote] = TypeAdapter(Document)

#: Text the serialisation escapes or leaves alone.
AWKWARD = (
    "A & B <c> \"d\" 'e' ]]> &amp;",
    "tab\there, line\nbreak, carriage\rreturn, both\r\n",
    "é ñ € 😀 中文 \u00a0nbsp \u2028 \ufeff",
    "  padded  ",
)
#: Blank text (``str.strip``), which the model refuses: the lxml writer pruned such an element.
BLANK = ("", " ", "\t\n", "\r", "\u00a0", "\u2028\u3000")


def same_bytes(doc: Invoice | CreditNote) -> bytes:
    """Both writers' output for ``doc``, asserted equal (or the same error from both: ``b""``)."""
    try:
        expected = lxml_writer_oracle.write_ubl(doc)
    except GatewayError as exc:  # MappingError, or InvalidDocumentData from the amounts' filling
        refusal: GatewayError = exc
    else:
        assert write_ubl(doc) == expected
        return expected
    with pytest.raises(type(refusal)) as raised:
        write_ubl(doc)
    assert str(raised.value) == str(refusal)
    return b""


def both_forms(doc: Invoice | CreditNote) -> Iterator[Invoice | CreditNote]:
    """The document as given and, where completion takes it, completed (what the API writes): then also
    written as the API writes it (``completed=True``: its amounts not filled again), the same bytes."""
    yield doc
    try:
        completed = complete_document(doc)
    except GatewayError:
        return
    assert fill_amounts(completed) == completed
    yield completed
    assert write_ubl(completed, completed=True) == lxml_writer_oracle.write_ubl(completed)


def _json_documents() -> list[Path]:
    return sorted(DOCUMENTS.glob("*.json"))


def _artefact_files() -> list[Path]:
    return sorted(p for p in ARTEFACTS.rglob("*") if p.suffix.lower() == ".xml")


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _valid(data: dict[str, Any]) -> Invoice | CreditNote | None:
    try:
        return ADAPTER.validate_python(data)
    except ValidationError:
        return None


def _string_leaves(data: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(data, dict):
        for key, value in data.items():
            if key != "kind":
                yield from _string_leaves(value, (*path, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from _string_leaves(value, (*path, i))
    elif isinstance(data, str):
        yield path


def _optional_members(data: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(data, dict):
        for key, value in data.items():
            yield (*path, key)
            yield from _optional_members(value, (*path, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from _optional_members(value, (*path, i))


def _get(data: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        data = data[step]
    return data


def _replaced(data: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(data)
    _get(changed, path[:-1])[path[-1]] = value
    return changed


def _without(data: dict[str, Any], path: tuple[Any, ...]) -> dict[str, Any]:
    changed = copy.deepcopy(data)
    del _get(changed, path[:-1])[path[-1]]
    return changed


def test_the_inputs_are_there() -> None:
    assert len(_json_documents()) >= 15
    assert len(_artefact_files()) >= 500  # a missing mirror must not make the test pass on nothing


@pytest.mark.parametrize("path", _json_documents(), ids=lambda p: p.stem)
def test_json_documents_as_posted_and_completed(path: Path) -> None:
    doc = ADAPTER.validate_python(_load(path))
    written = [same_bytes(d) for d in both_forms(doc)]
    assert len(written) == 2  # every test document completes
    assert all(written)


def test_every_artefact_read_back() -> None:
    read = 0
    for path in _artefact_files():
        try:
            doc = read_ubl(path.read_bytes())
        except (GatewayError, ValueError):
            continue  # not an Invoice or CreditNote the reader takes
        read += 1
        for form in both_forms(doc):
            same_bytes(form)
    assert read >= 60  # the official examples and the CEN test files the reader takes (64 on 2026-12-07)


@pytest.mark.parametrize("path", _json_documents(), ids=lambda p: p.stem)
@pytest.mark.parametrize("text", AWKWARD, ids=range(len(AWKWARD)))
def test_awkward_text_in_every_field(path: Path, text: str) -> None:
    """Each string of the posted document replaced by ``text`` (one field after the other, kept when the
    model takes it), written after each replacement that the model took."""
    data = _load(path)
    taken = 0
    for leaf in list(_string_leaves(data)):
        changed = _replaced(data, leaf, text)
        doc = _valid(changed)
        if doc is None:
            continue
        data, taken = changed, taken + 1
        for form in both_forms(doc):
            same_bytes(form)
    assert taken > 0


@pytest.mark.parametrize("path", _json_documents(), ids=lambda p: p.stem)
def test_optionals_left_out(path: Path) -> None:
    """Members removed one after the other while the model still takes the document."""
    data = _load(path)
    for member in reversed(list(_optional_members(data))):
        try:
            changed = _without(data, member)
        except (KeyError, IndexError, TypeError):
            continue  # inside a member removed before
        doc = _valid(changed)
        if doc is not None:
            data = changed
            for form in both_forms(doc):
                same_bytes(form)


@pytest.mark.parametrize("path", _json_documents(), ids=lambda p: p.stem)
def test_as_credit_notes_with_many_lines(path: Path) -> None:
    data = _load(path)
    lines = [dict(line, id=f"many-{i}") for i in range(1, 61) for line in data["lines"][:1]]
    for kind in ("credit_note", "invoice"):
        doc = _valid(dict(data, kind=kind, due_date=None, lines=lines + data["lines"]))
        assert doc is not None
        for form in both_forms(doc):
            same_bytes(form)


@pytest.mark.parametrize("value", BLANK, ids=range(len(BLANK)))
def test_blank_text_past_the_model(value: str) -> None:
    """Left out with its attributes, and an aggregate left empty with it."""
    doc = complete_document(ADAPTER.validate_python(_load(DOCUMENTS / "be-domestic-mixed-rates.json")))
    seller, line = doc.seller, doc.lines[0]
    assert seller.endpoint is not None
    for changed in (
        doc.model_copy(update={"notes": (value,), "buyer_reference": value}),
        doc.model_copy(update={"seller": seller.model_copy(update={"trading_name": value})}),
        doc.model_copy(
            update={
                "seller": seller.model_copy(
                    update={"endpoint": seller.endpoint.model_copy(update={"value": value})}
                )
            }
        ),
        doc.model_copy(
            update={
                "lines": (line.model_copy(update={"item": line.item.model_copy(update={"name": value})}),)
            }
        ),
    ):
        assert same_bytes(changed)


@pytest.mark.parametrize(
    "value",
    ["a\x00b", "\x01", "\x1f", "x\x0by", "\ufffe", "\uffff", "lone \ud800 surrogate", "\udfff"],
)
def test_what_xml_cannot_carry_is_refused_alike(value: str) -> None:
    """Past the model (which refuses it first): the same MappingError, in text or in an attribute."""
    doc = complete_document(ADAPTER.validate_python(_load(DOCUMENTS / "be-domestic-mixed-rates.json")))
    line = doc.lines[0]
    for changed in (
        doc.model_copy(update={"notes": (value,)}),
        doc.model_copy(update={"notes": (f"ok{value}", "second")}),
        doc.model_copy(update={"lines": (line.model_copy(update={"unit_code": value}), *doc.lines[1:])}),
        doc.model_copy(update={"currency": value}),
    ):
        with pytest.raises(MappingError):
            lxml_writer_oracle.write_ubl(changed)
        assert same_bytes(changed) == b""


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document())
def test_generated_documents(doc: Invoice | CreditNote) -> None:
    for form in both_forms(doc):
        same_bytes(form)
