"""Hostile path and query values on the document routes, on both databases: PostgreSQL refuses a NUL
character in any string, so the edge must refuse it first (422) instead of passing it to the store;
likewise a date-time without a UTC instant in range (the store compares in UTC)."""

from __future__ import annotations

import base64

import pytest

from tests.integration.document_api import (  # noqa: F401 - fixtures
    DocumentAPI,
    _document_apis,
    _postgres_url,
    _sqlite_url,
    auth,
    docs_fixture,
    problem_of,
)


@pytest.mark.parametrize(
    "path",
    [
        "/v1/outbound?number=%00",
        "/v1/outbound?number=a%00b",
        "/v1/outbound?number=a%01b",
        "/v1/outbound?receiver=0208:%00",
        "/v1/outbound?receiver=0208:a%1fb",
        "/v1/outbound?receiver=EM:a%00@b.example",
        "/v1/outbound?receiver=EM:a%01b@c.example",
        "/v1/outbound/%00",
        "/v1/outbound/a%00b/ubl",
        "/v1/outbound/a%00b/evidence",
        "/v1/outbound/%C3%A9",
        "/v1/inbound/%00",
        "/v1/inbound/a%00b/ubl",
        "/v1/inbound?sender=0208:a%00",
        "/v1/inbound?receiver=0208:a%00",
        # Valid RFC 3339 date-times without a UTC instant in datetime's range (the store compares in UTC).
        "/v1/outbound?since=0001-01-01T00:00:00%2B01:00",
        "/v1/outbound?since=9999-12-31T23:59:59.5-23:59",
        "/v1/inbound?since=0001-01-01T00:30:00%2B00:31",
        "/v1/inbound?since=9999-12-31T23:00:00-01:30",
    ],
)
def test_hostile_paths_and_queries_are_a_422(docs: DocumentAPI, path: str) -> None:
    response = docs.client.get(path)
    assert response.status_code == 422, response.text
    assert problem_of(response)["status"] == 422


def test_a_retry_of_a_hostile_id_is_a_422(docs: DocumentAPI) -> None:
    response = docs.client.post("/v1/outbound/a%00b/retry", headers=auth("support"))
    assert response.status_code == 422, response.text


@pytest.mark.parametrize("path", ["/v1/outbound/nope", "/v1/outbound/00000000-0000-0000-0000-000000000000"])
def test_an_unknown_printable_id_is_still_a_404(docs: DocumentAPI, path: str) -> None:
    assert docs.client.get(path).status_code == 404


def test_a_number_with_unicode_is_searched(docs: DocumentAPI) -> None:
    response = docs.client.get("/v1/outbound", params={"number": "Factuur №\u00a012 é"})
    assert response.status_code == 200
    assert response.json()["items"] == []


def _cursor(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "raw",
    [
        "0001-01-01T00:00:00+14:00|x",  # no UTC instant in datetime's range (the store compares in UTC)
        "9999-12-31T23:59:59-14:00|x",
        "2026-01-01T00:00:00+00:00|a\x00b",  # PostgreSQL refuses NUL in any string
        "2026-01-01T00:00:00+00:00|" + "a" * 300,  # longer than any document id
    ],
)
@pytest.mark.parametrize("route", ["/v1/outbound", "/v1/inbound"])
def test_forged_cursors_are_a_400(docs: DocumentAPI, route: str, raw: str) -> None:
    response = docs.client.get(route, params={"cursor": _cursor(raw)})
    assert response.status_code == 400, response.text
    assert problem_of(response)["status"] == 400


def test_an_invalid_cursor_is_not_echoed_in_full(docs: DocumentAPI) -> None:
    response = docs.client.get("/v1/outbound", params={"cursor": "!" * 5000})
    assert response.status_code == 400
    assert len(response.content) < 1000
