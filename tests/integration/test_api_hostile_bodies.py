"""A hostile-client campaign on the JSON and XML bodies of /v1 (issue 7 "Checked by"): odd encodings,
duplicate keys, non-finite and oversized number literals, deep nesting, XML bombs and odd declarations.
Every answer is a 4xx problem+json naming the problem (or a 200 report for /v1/validate); never a 5xx."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.integration.conftest import problem_of

DOCUMENTS = Path(__file__).parents[1] / "data" / "documents"
SAMPLE_TEXT = (DOCUMENTS / "be-domestic-mixed-rates.json").read_text(encoding="utf-8")
SAMPLE: dict[str, Any] = json.loads(SAMPLE_TEXT)
JSON_ROUTES = ["/v1/convert", "/v1/outbound/invoices"]


def sample_bytes() -> bytes:
    """The sample with a fresh number (the submit route would otherwise answer the first result again)."""
    return json.dumps({**SAMPLE, "number": f"HOSTILE-{uuid.uuid4().hex[:12]}"}).encode()


def _first_quantity(literal: bytes) -> bytes:
    body = sample_bytes()
    assert b'"quantity": "4"' in body
    return body.replace(b'"quantity": "4"', b'"quantity": ' + literal, 1)


JSON_BODIES: dict[str, Any] = {
    "duplicate-kind": lambda: b'{"kind": "credit_note", ' + sample_bytes()[1:],
    "duplicate-number": lambda: sample_bytes()[:-1] + b', "number": "OTHER-1"}',
    "duplicate-nested": lambda: sample_bytes().replace(
        b'"city": "Gent"', b'"city": "Gent", "city": "Brugge"', 1
    ),
    "nan-literal": lambda: _first_quantity(b"NaN"),
    "infinity-literal": lambda: _first_quantity(b"-Infinity"),
    "huge-int-literal": lambda: _first_quantity(b"1" + b"0" * 5000),
    "huge-exponent": lambda: _first_quantity(b"1e999999"),
    "deep-array": lambda: b"[" * 50_000 + b"]" * 50_000,
    "deep-object-in-notes": lambda: (
        sample_bytes()[:-1] + b', "notes": ' + b"[" * 20_000 + b"]" * 20_000 + b"}"
    ),
    "utf-16": lambda: sample_bytes().decode().encode("utf-16"),
    "invalid-utf-8": lambda: sample_bytes().replace(b"Gent", b"G\xffnt", 1),
    "lone-surrogate-escape": lambda: sample_bytes().replace(b'"Gent"', b'"\\ud800"', 1),
    "trailing-garbage": lambda: sample_bytes() + b"}",
    "duplicate-then-garbage": lambda: b'{"kind": "credit_note", ' + sample_bytes()[1:] + b"}",
    "duplicate-lone-surrogate-name": lambda: b'{"\\ud800": 1, "\\ud800": 2, ' + sample_bytes()[1:],
    "duplicate-then-deep": lambda: b'[{"a": 1, "a": 2}, ' + b"[" * 50_000 + b"]" * 50_000 + b"]",
    "top-level-array": lambda: b"[" + sample_bytes() + b"]",
    "empty": lambda: b"",
}


@pytest.mark.parametrize("route", JSON_ROUTES)
@pytest.mark.parametrize("case", sorted(JSON_BODIES))
def test_hostile_json_bodies_get_a_4xx_problem(api: TestClient, route: str, case: str) -> None:
    response = api.post(route, content=JSON_BODIES[case](), headers={"Content-Type": "application/json"})
    assert 400 <= response.status_code < 500, response.text
    problem_of(response)


@pytest.mark.parametrize("route", JSON_ROUTES)
@pytest.mark.parametrize(
    ("case", "where"),
    [
        ("duplicate-kind", "kind: duplicate key 'kind' at /kind"),
        ("duplicate-number", "number: duplicate key 'number' at /number"),
        ("duplicate-nested", "buyer.address.city: duplicate key 'city' at /buyer/address/city"),
    ],
)
def test_duplicate_keys_are_refused_naming_the_key_and_its_place(
    api: TestClient, route: str, case: str, where: str
) -> None:
    # RFC 8259 §4: with duplicate names "the behavior of software that receives such an object is
    # unpredictable"; the submitting system and we could read two different invoices from one body.
    response = api.post(route, content=JSON_BODIES[case](), headers={"Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    problem = problem_of(response)
    # As malformed JSON is answered on these routes: the document's problem, one line per repeated name.
    assert problem["type"] == "/problems/invalid-document-data"
    [line] = problem["errors"]  # type: ignore[misc]
    assert line.startswith(f"{where}: "), line


@pytest.mark.parametrize("route", JSON_ROUTES)
def test_malformed_json_and_duplicate_keys_are_answered_alike(api: TestClient, route: str) -> None:
    malformed = problem_of(
        api.post(route, content=b'{"kind": ', headers={"Content-Type": "application/json"})
    )
    repeated = problem_of(
        api.post(route, content=b'{"a": {"b": 1, "b": 1}}', headers={"Content-Type": "application/json"})
    )
    assert {k: malformed[k] for k in ("type", "title", "status")} == {
        k: repeated[k] for k in ("type", "title", "status")
    }
    assert repeated["errors"] == [
        "a.b: duplicate key 'b' at /a/b: an object may hold a name once (RFC 8259 §4; readers differ on "
        "which value counts)"
    ]


XML_BODIES: dict[str, bytes] = {
    "internal-entity-expansion": (
        b'<!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        b"<Invoice>&b;</Invoice>"
    ),
    "external-entity": b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><Invoice>&e;</Invoice>',
    "deep": b"<a>" * 50_000 + b"</a>" * 50_000,
    "declared-utf-16-but-utf-8": b'<?xml version="1.0" encoding="UTF-16"?><Invoice/>',
    "unknown-encoding": b'<?xml version="1.0" encoding="x-bogus"?><Invoice/>',
    "nul-character": b"<Invoice>\x00</Invoice>",
    "empty": b"",
}


@pytest.mark.parametrize("route", ["/v1/validate", "/v1/outbound/ubl"])
@pytest.mark.parametrize("case", sorted(XML_BODIES))
def test_hostile_xml_bodies_get_a_400_problem(api: TestClient, route: str, case: str) -> None:
    response = api.post(route, content=XML_BODIES[case], headers={"Content-Type": "application/xml"})
    assert response.status_code == 400, response.text
    problem_of(response)


@pytest.mark.parametrize(
    ("route", "content_type"),
    [
        ("/v1/convert", "text/plain"),
        ("/v1/convert", "application/xml"),
        ("/v1/convert", "application/x-www-form-urlencoded"),
        ("/v1/outbound/invoices", "multipart/form-data; boundary=x"),
        ("/v1/outbound/credit-notes", "\x01\x02"),
        ("/v1/validate", "application/json"),
        ("/v1/outbound/ubl", "text/plain; charset=utf-8"),
    ],
)
def test_a_body_of_another_media_type_is_a_415(api: TestClient, route: str, content_type: str) -> None:
    body = XML_BODIES["empty"] if route in ("/v1/validate", "/v1/outbound/ubl") else sample_bytes()
    response = api.post(route, content=body, headers={"Content-Type": content_type})
    assert response.status_code == 415, response.text
    assert problem_of(response)["status"] == 415


@pytest.mark.parametrize("content_type", [None, "application/json; charset=utf-8", "application/vnd.x+json"])
def test_json_without_or_with_a_json_media_type_is_read(api: TestClient, content_type: str | None) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    assert api.post("/v1/convert", content=sample_bytes(), headers=headers).status_code == 200


@pytest.mark.parametrize("text", ["1_000", "\u0664", "\uff14", " 4", "4 ", "4\n", "0x10", "4,5"])
@pytest.mark.parametrize("field", ["quantity", "net_amount"])
def test_numbers_in_other_scripts_or_with_separators_are_a_422(
    api: TestClient, text: str, field: str
) -> None:
    # Python's Decimal reads "1_000", Arabic-Indic and fullwidth digits and surrounding blanks: the API
    # takes only what its OpenAPI description and every JSON reader agree on.
    document = json.loads(sample_bytes())
    line = document["lines"][1]
    if field == "quantity":
        line["quantity"] = text
    else:
        line["price"]["net_amount"] = text
    response = api.post("/v1/convert", json=document)
    assert response.status_code == 422, response.text
    assert "ASCII digits" in json.dumps(problem_of(response))


@pytest.mark.parametrize("text", ["4", "-4", "+4", "4.", ".5", "1E2", "1e-2", "0.000001"])
def test_plain_numbers_as_text_are_read(api: TestClient, text: str) -> None:
    document = json.loads(sample_bytes())
    document["lines"][1]["quantity"] = text
    assert api.post("/v1/convert", json=document).status_code == 200


def _first_price(literal: bytes) -> bytes:
    body = sample_bytes()
    assert b'"net_amount": "250.00"' in body
    return body.replace(b'"net_amount": "250.00"', b'"net_amount": ' + literal, 1)


@pytest.mark.parametrize("route", JSON_ROUTES)
@pytest.mark.parametrize(
    "body",
    [
        # A binary float holds about 16 significant digits: these would be read as 4.0, 123456789012.34567
        # and 250.0, and the last one (three decimals as text) is refused by BR-DEC when written as text.
        lambda: _first_quantity(b"4.00000000000000000001"),
        lambda: _first_quantity(b"123456789012.345678901"),
        lambda: _first_price(b"250.000000000000000001"),
        lambda: _first_quantity(b"1e999999999999999999999"),  # beyond Decimal's exponents too
    ],
    ids=["quantity-20-decimals", "quantity-21-digits", "amount-18-decimals", "exponent-beyond-decimal"],
)
def test_a_json_number_a_float_cannot_hold_is_refused_not_rounded(
    api: TestClient, route: str, body: Any
) -> None:
    # The OpenAPI description takes numbers as JSON numbers or text; pydantic reads a JSON number through a
    # binary float, which would change the value posted and send another invoice than the one written.
    response = api.post(route, content=body(), headers={"Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    problem = problem_of(response)
    assert problem["type"] == "/problems/invalid-document-data"
    assert "write it as a string" in json.dumps(problem)
    # Located as the model's own problems are: the field, not only the value.
    assert re.search(r"lines\.0\.(quantity|price\.net_amount): the JSON number", json.dumps(problem)), problem


@pytest.mark.parametrize("literal", [b"4.5", b"4e0", b"0.1", b"12345.678", b"1E+1"])
def test_json_numbers_a_float_holds_exactly_are_read(api: TestClient, literal: bytes) -> None:
    assert api.post("/v1/convert", content=_first_quantity(literal)).status_code == 200


@pytest.mark.parametrize("route", JSON_ROUTES)
@pytest.mark.parametrize("field", ["quantity", "net_amount"])
def test_a_zero_with_a_huge_negative_exponent_is_refused_not_written_out(
    api: TestClient, route: str, field: str
) -> None:
    # "0e-10000000" is a zero of ten million decimal places: written out in the UBL it made a 4 KB body a
    # 10 MB document (1 GB for 0e-999999999), past every size limit, accepted and queued for sending.
    body = _first_quantity(b'"0e-10000000"') if field == "quantity" else _first_price(b'"0e-10000000"')
    response = api.post(route, content=body)
    assert response.status_code == 422, response.text[:300]
    assert len(response.content) < 10_000
    assert "decimals" in json.dumps(problem_of(response))


@pytest.mark.parametrize("text", ["0", "0.00", "-0.0", "0e-20", "0e5"])
def test_a_zero_written_with_few_decimals_is_read(api: TestClient, text: str) -> None:
    response = api.post("/v1/convert", content=_first_quantity(f'"{text}"'.encode()))
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(("field", "text"), [("net_amount", "-0.00"), ("quantity", "-0.0")])
def test_a_negative_zero_is_written_as_zero(api: TestClient, field: str, text: str) -> None:
    # "-0.00" is what JavaScript's toFixed(2) makes of -0.001: a zero price, which the model takes as
    # not negative. Written "-0.00" in the UBL, validation then refused the zero price as negative (BR-27).
    quoted = f'"{text}"'.encode()
    body = _first_price(quoted) if field == "net_amount" else _first_quantity(quoted)
    response = api.post("/v1/convert", content=body)
    assert response.status_code == 200, response.text[:600]
    assert f">{text}<" not in response.json()["ubl"]
    assert f">{text[1:]}<" in response.json()["ubl"]
