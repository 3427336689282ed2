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


def _requests() -> list[tuple[str, str, dict[str, str], bytes]]:
    """(route, method, headers, body) of each request, in the order sent."""
    invoice = json.dumps(invoice_data()).encode()
    other = json.dumps({**invoice_data(), "number": "2026-0004712"}).encode()
    invoices = "/v1/outbound/invoices"
    return [
        (invoices, "POST", {}, invoice),  # 202
        (invoices, "POST", {}, invoice),  # 200 duplicate
        (invoices, "POST", {"Idempotency-Key": "k-1"}, other),  # 202
        (invoices, "POST", {"Idempotency-Key": "k-1"}, other),  # 202 replayed
        (invoices, "POST", {"Authorization": ""}, invoice),  # 401
        (invoices, "POST", auth("support"), invoice),  # 403
        (invoices, "POST", {"Content-Type": "text/plain"}, invoice),  # 415
        (invoices, "POST", {}, b"{"),  # 422 not JSON
        (invoices, "POST", {}, b"{}"),  # 422 fields missing
        (invoices, "POST", {}, b'{"number": "1", "number": "2"}'),  # 422 repeated name
        (invoices, "POST", {"Idempotency-Key": "a b"}, invoice),  # 422 header pattern
        ("/v1/outbound/credit-notes", "POST", {}, b"[]"),  # 422 not an object
        ("/v1/outbound/ubl", "POST", {"Content-Type": "application/json"}, b"<x/>"),  # 415
    ]


def _answers(docs: DocumentAPI) -> list[tuple[int, dict[str, str], bytes]]:
    answers = []
    for route, method, headers, body in _requests():
        sent = {"Content-Type": "application/json", **headers}
        response = docs.client.request(method, route, content=body, headers=sent)
        shown = {name: response.headers[name] for name in SHOWN_HEADERS if name in response.headers}
        answers.append((response.status_code, shown, response.content))
    return answers


#: The answers main's code gave (ids from the fixture's sequential ids).
EXPECTED: list[tuple[int, dict[str, str], bytes]] = [
    (
        202,
        {"content-type": "application/json", "location": "/v1/outbound/00000000-0000-0000-0000-000000000001"},
        b'{"id":"00000000-0000-0000-0000-000000000001","status":"accepted","status_url":"/v1/outbound/00000000'
        b'-0000-0000-0000-000000000001","duplicate":false}',
    ),
    (
        200,
        {"content-type": "application/json", "location": "/v1/outbound/00000000-0000-0000-0000-000000000001"},
        b'{"id":"00000000-0000-0000-0000-000000000001","status":"accepted","status_url":"/v1/outbound/00000000'
        b'-0000-0000-0000-000000000001","duplicate":true}',
    ),
    (
        202,
        {"content-type": "application/json", "location": "/v1/outbound/00000000-0000-0000-0000-000000000002"},
        b'{"id":"00000000-0000-0000-0000-000000000002","status":"accepted","status_url":"/v1/outbound/00000000'
        b'-0000-0000-0000-000000000002","duplicate":false}',
    ),
    (
        202,
        {
            "content-type": "application/json",
            "idempotent-replayed": "true",
            "location": "/v1/outbound/00000000-0000-0000-0000-000000000002",
        },
        b'{"id":"00000000-0000-0000-0000-000000000002","status":"accepted","status_url":"/v1/outbound/00000000'
        b'-0000-0000-0000-000000000002","duplicate":false}',
    ),
    (
        401,
        {"content-type": "application/problem+json", "www-authenticate": "Bearer"},
        b'{"type":"/problems/http-401","title":"A valid API key is required (Authorization: Bearer <key> or X-'
        b'API-Key)","status":401,"instance":"/v1/outbound/invoices"}',
    ),
    (
        403,
        {"content-type": "application/problem+json"},
        b'{"type":"/problems/http-403","title":"Role \'support\' may not do this","status":403,"instance":"/'
        b'v1/outbound/invoices"}',
    ),
    (
        415,
        {"content-type": "application/problem+json"},
        b'{"type":"/problems/http-415","title":"Content-Type \'text/plain\' is not JSON","status":415,"insta'
        b'nce":"/v1/outbound/invoices"}',
    ),
    (
        422,
        {"content-type": "application/problem+json"},
        b'{"type":"/problems/invalid-document-data","title":"The document data is inconsistent","status":422,"'
        b'detail":"document: Invalid JSON: EOF while parsing an object at line 1 column 1","instance":"/v1/out'
        b'bound/invoices","errors":["document: Invalid JSON: EOF while parsing an object at line 1 column 1"]}',
    ),
    (
        422,
        {"content-type": "application/problem+json"},
        b'{"type":"/problems/invalid-document-data","title":"The document data is inconsistent","status":422,"'
        b'detail":"number: Field required; issue_date: Field required; currency: Field required; seller: Field'
        b' required; buyer: Field required; lines: Field required","instance":"/v1/outbound/invoices","errors"'
        b':["number: Field required","issue_date: Field required","currency: Field required","seller: Field re'
        b'quired","buyer: Field required","lines: Field required"]}',
    ),
    (
        422,
        {"content-type": "application/problem+json"},
        b'{"type":"/problems/invalid-document-data","title":"The document data is inconsistent","status":422,"'
        b"detail\":\"number: duplicate key 'number' at /number: an object may hold a name once (RFC 8259"
        b' \xc2\xa74; readers differ on which value counts)","instance":"/v1/outbound/invoices","errors":["n'
        b"umber: duplicate key 'number' at /number: an object may hold a name once (RFC 8259 \xc2\xa74; read"
        b'ers differ on which value counts)"]}',
    ),
    (
        422,
        {"content-type": "application/problem+json"},
        b'{"type":"/problems/request-invalid","title":"The request does not match the schema","status":422,"de'
        b'tail":"1 problem(s) in the request","instance":"/v1/outbound/invoices","errors":[{"location":"header'
        b'.Idempotency-Key","message":"String should match pattern \'^[\\\\x21-\\\\x7e]+$\'"}]}',
    ),
    (
        422,
        {"content-type": "application/problem+json"},
        b'{"type":"/problems/invalid-document-data","title":"The document data is inconsistent","status":422,"'
        b'detail":"document: Input should be an object","instance":"/v1/outbound/credit-notes","errors":["docu'
        b'ment: Input should be an object"]}',
    ),
    (
        415,
        {"content-type": "application/problem+json"},
        b'{"type":"/problems/http-415","title":"Content-Type \'application/json\' is not XML","status":415,"'
        b'instance":"/v1/outbound/ubl"}',
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
