"""The submission routes' answers byte for byte: the 202 and 200 bodies ``_render`` writes without building
``SubmissionResponse`` (BENCHMARKS.md, *Sending API instructions outside validation*), a replay, and the
refusals before a submission runs (401, 403, 415, 422), each compared with the bytes main's code gave
(recorded from it, 2026-12-07). Any change of a field, its order, its spelling or a header fails here."""

from __future__ import annotations

import json
from typing import Any

from gateway.api.outbound_schemas import SubmissionResponse
from tests.integration.document_api import (  # noqa: F401 - fixtures
    DocumentAPI,
    _document_apis,
    _postgres_url,
    _sqlite_url,
    auth,
    docs_fixture,
)
from tests.unit.model.model_builders import invoice_data

#: Headers compared besides the status and the body (the others are the server's: date, length).
SHOWN_HEADERS = ("content-type", "location", "idempotent-replayed", "www-authenticate")


def _requests() -> list[tuple[str, list[tuple[str, str]], bytes]]:
    """(route, header lines, body) of each POST, in the order sent (JSON unless a line says otherwise)."""
    invoice = json.dumps(invoice_data()).encode()
    other = json.dumps({**invoice_data(), "number": "2026-0004712"}).encode()
    third = json.dumps({**invoice_data(), "number": "2026-0004713"}).encode()
    invoices = "/v1/outbound/invoices"
    key = "Idempotency-Key"
    return [
        (invoices, [], invoice),  # 202
        (invoices, [], invoice),  # 200 duplicate
        (invoices, [(key, "k-1")], other),  # 202
        (invoices, [(key, "k-1")], other),  # 202 replayed
        (invoices, [(key, "k-2"), (key, "k-2")], third),  # 202: one key, on two lines
        (invoices, [(key, "k-3"), (key, "k-4")], third),  # 422 two keys
        (invoices, [(key, "k-3"), (key, "a b")], third),  # 422 two keys, the second not even one
        (invoices, [("Authorization", "")], invoice),  # 401
        (invoices, [("Authorization", "")], b"{"),  # 401 before the body counts
        (invoices, list(auth("support").items()), invoice),  # 403
        (invoices, [("Content-Type", "text/plain")], invoice),  # 415
        (invoices, [], b"{"),  # 422 not JSON
        (invoices, [], b"{}"),  # 422 fields missing
        (invoices, [], b'{"number": "1", "number": "2"}'),  # 422 repeated name
        (invoices, [(key, "a b")], invoice),  # 422 header pattern
        (invoices, [(key, "a b"), (key, "k-5")], b"{"),  # 422 header pattern before the body's problem
        ("/v1/outbound/credit-notes", [], b"[]"),  # 422 not an object
        ("/v1/outbound/ubl", [], b"<x/>"),  # 415
        ("/v1/outbound/ubl", [("Content-Type", "application/xml"), (key, "k-6"), (key, "k-7")], b"<x/>"),
    ]


def _answers(docs: DocumentAPI) -> list[tuple[int, dict[str, str], bytes]]:
    answers = []
    for route, lines, body in _requests():
        typed = any(name == "Content-Type" for name, _ in lines)
        sent = lines if typed else [("Content-Type", "application/json"), *lines]
        response = docs.client.post(route, content=body, headers=sent)
        shown = {name: response.headers[name] for name in SHOWN_HEADERS if name in response.headers}
        answers.append((response.status_code, shown, response.content))
    return answers


#: The answers main's code gave (ids from the fixture's sequential ids).
EXPECTED: list[tuple[int, dict[str, str], bytes]] = [
    (
        202,
        {"content-type": "application/json", "location": "/v1/outbound/00000000-0000-0000-0000-000000000001"},
        b'{"id":"00000000-0000-0000-0000-000000000001","status":"accepted","status_url":"/v1/outbound/'
        b'00000000-0000-0000-0000-000000000001","duplicate":false}',
    ),
    (
        200,
        {"content-type": "application/json", "location": "/v1/outbound/00000000-0000-0000-0000-000000000001"},
        b'{"id":"00000000-0000-0000-0000-000000000001","status":"accepted","status_url":"/v1/outbound/'
        b'00000000-0000-0000-0000-000000000001","duplicate":true}',
    ),
    (
        202,
        {"content-type": "application/json", "location": "/v1/outbound/00000000-0000-0000-0000-000000000002"},
        b'{"id":"00000000-0000-0000-0000-000000000002","status":"accepted","status_url":"/v1/outbound/'
        b'00000000-0000-0000-0000-000000000002","duplicate":false}',
    ),
    (
        202,
        {
            "content-type": "application/json",
            "idempotent-replayed": "true",
            "location": "/v1/outbound/00000000-0000-0000-0000-000000000002",
        },
        b'{"id":"00000000-0000-0000-0000-000000000002","status":"accepted","status_url":"/v1/outbound/'
        b'00000000-0000-0000-0000-000000000002","duplicate":false}',
    ),
    (
        202,
        {"content-type": "application/json", "location": "/v1/outbound/00000000-0000-0000-0000-000000000003"},
        b'{"id":"00000000-0000-0000-0000-000000000003","status":"accepted","status_url":"/v1/outbound/'
        b'00000000-0000-0000-0000-000000000003","duplicate":false}',
    ),
    (
        422,
        {"content-type": "application/problem+json"},
        b'{"type":"/problems/request-invalid","title":"The request does not match the schema","status"'
        b':422,"detail":"1 problem(s) in the request","instance":"/v1/outbound/invoices","errors":[{"l'
        b'ocation":"header.Idempotency-Key","message":"Two different Idempotency-Key values: send one"'
        b"}]}",
    ),
    (
        422,
        {"content-type": "application/problem+json"},
        b'{"type":"/problems/request-invalid","title":"The request does not match the schema","status"'
        b':422,"detail":"1 problem(s) in the request","instance":"/v1/outbound/invoices","errors":[{"l'
        b'ocation":"header.Idempotency-Key","message":"Two different Idempotency-Key values: send one"'
        b"}]}",
    ),
    (
        401,
        {"content-type": "application/problem+json", "www-authenticate": "Bearer"},
        b'{"type":"/problems/http-401","title":"A valid API key is required (Authorization: Bearer <ke'
        b'y> or X-API-Key)","status":401,"instance":"/v1/outbound/invoices"}',
    ),
    (
        401,
        {"content-type": "application/problem+json", "www-authenticate": "Bearer"},
        b'{"type":"/problems/http-401","title":"A valid API key is required (Authorization: Bearer <ke'
        b'y> or X-API-Key)","status":401,"instance":"/v1/outbound/invoices"}',
    ),
    (
        403,
        {"content-type": "application/problem+json"},
        b'{"type":"/problems/http-403","title":"Role \'support\' may not do this","status":403,"instance'
        b'":"/v1/outbound/invoices"}',
    ),
    (
        415,
        {"content-type": "application/problem+json"},
        b'{"type":"/problems/http-415","title":"Content-Type \'text/plain\' is not JSON","status":415,"i'
        b'nstance":"/v1/outbound/invoices"}',
    ),
    (
        422,
        {"content-type": "application/problem+json"},
        b'{"type":"/problems/invalid-document-data","title":"The document data is inconsistent","statu'
        b's":422,"detail":"document: Invalid JSON: EOF while parsing an object at line 1 column 1","in'
        b'stance":"/v1/outbound/invoices","errors":["document: Invalid JSON: EOF while parsing an obje'
        b'ct at line 1 column 1"]}',
    ),
    (
        422,
        {"content-type": "application/problem+json"},
        b'{"type":"/problems/invalid-document-data","title":"The document data is inconsistent","statu'
        b's":422,"detail":"number: Field required; issue_date: Field required; currency: Field require'
        b'd; seller: Field required; buyer: Field required; lines: Field required","instance":"/v1/out'
        b'bound/invoices","errors":["number: Field required","issue_date: Field required","currency: F'
        b'ield required","seller: Field required","buyer: Field required","lines: Field required"]}',
    ),
    (
        422,
        {"content-type": "application/problem+json"},
        b'{"type":"/problems/invalid-document-data","title":"The document data is inconsistent","statu'
        b's":422,"detail":"number: duplicate key \'number\' at /number: an object may hold a name once ('
        b'RFC 8259 \xc2\xa74; readers differ on which value counts)","instance":"/v1/outbound/invoices",'
        b'"errors":["number: duplicate key \'number\' at /number: an object may hold a name once (RFC 82'
        b'59 \xc2\xa74; readers differ on which value counts)"]}',
    ),
    (
        422,
        {"content-type": "application/problem+json"},
        b'{"type":"/problems/request-invalid","title":"The request does not match the schema","status"'
        b':422,"detail":"1 problem(s) in the request","instance":"/v1/outbound/invoices","errors":[{"l'
        b'ocation":"header.Idempotency-Key","message":"String should match pattern \'^[\\\\x21-\\\\x7e]'
        b"+$'\"}]}",
    ),
    (
        422,
        {"content-type": "application/problem+json"},
        b'{"type":"/problems/request-invalid","title":"The request does not match the schema","status"'
        b':422,"detail":"1 problem(s) in the request","instance":"/v1/outbound/invoices","errors":[{"l'
        b'ocation":"header.Idempotency-Key","message":"String should match pattern \'^[\\\\x21-\\\\x7e]'
        b"+$'\"}]}",
    ),
    (
        422,
        {"content-type": "application/problem+json"},
        b'{"type":"/problems/invalid-document-data","title":"The document data is inconsistent","statu'
        b's":422,"detail":"document: Input should be an object","instance":"/v1/outbound/credit-notes"'
        b',"errors":["document: Input should be an object"]}',
    ),
    (
        415,
        {"content-type": "application/problem+json"},
        b'{"type":"/problems/http-415","title":"Content-Type \'application/json\' is not XML","status":4'
        b'15,"instance":"/v1/outbound/ubl"}',
    ),
    (
        422,
        {"content-type": "application/problem+json"},
        b'{"type":"/problems/request-invalid","title":"The request does not match the schema","status"'
        b':422,"detail":"1 problem(s) in the request","instance":"/v1/outbound/ubl","errors":[{"locati'
        b'on":"header.Idempotency-Key","message":"Two different Idempotency-Key values: send one"}]}',
    ),
]


def test_submission_answers_are_byte_for_byte_main_s(docs: DocumentAPI) -> None:
    assert _answers(docs) == EXPECTED


def test_the_202_body_is_the_response_model_s_dump(docs: DocumentAPI) -> None:
    response = docs.client.post(
        "/v1/outbound/invoices", content=json.dumps(invoice_data()).encode(), headers={}
    )
    assert response.status_code == 202
    body: dict[str, Any] = response.json()
    model = SubmissionResponse.model_validate(body)
    assert json.loads(response.content) == model.model_dump()
    assert list(body) == list(SubmissionResponse.model_fields)
    assert response.content == json.dumps(model.model_dump(), separators=(",", ":")).encode()


#: The submission operations' Idempotency-Key parameter and security, as main's OpenAPI description gave
#: them: the key is a parameter of the route, and the role check names both schemes itself (``deps``).
SUBMISSION_PARAMETERS = [
    {
        "name": "Idempotency-Key",
        "in": "header",
        "required": False,
        "schema": {
            "anyOf": [
                {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[\\x21-\\x7e]+$"},
                {"type": "null"},
            ],
            "description": "Makes a repeated post return the first answer and never create a second document",
            "title": "Idempotency-Key",
        },
        "description": "Makes a repeated post return the first answer and never create a second document",
    }
]


def test_the_submission_operations_are_described_as_before(docs: DocumentAPI) -> None:
    paths = docs.client.get("/openapi.json", headers=auth("admin")).json()["paths"]
    for route in ("/v1/outbound/invoices", "/v1/outbound/credit-notes", "/v1/outbound/ubl"):
        operation = paths[route]["post"]
        assert operation["parameters"] == SUBMISSION_PARAMETERS
        assert operation["security"] == [{"HTTPBearer": []}, {"APIKeyHeader": []}]
