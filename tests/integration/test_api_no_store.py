"""Every answer of the API's /v1 routes says ``Cache-Control: no-store`` (``gateway.api.no_store``): JSON and
problem+json, whoever answers (a route, the API-key check, the router, the error handlers), HEAD too; a
document file keeps its own ``private, no-store``, once; the probes, the metrics, the OpenAPI document and
the AS4 endpoint say nothing of caches, as before."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.integration.conftest import SUPPORT_KEY, problem_of

DOCUMENTS = Path(__file__).parents[1] / "data" / "documents"
SAMPLE: dict[str, Any] = json.loads((DOCUMENTS / "be-domestic-mixed-rates.json").read_text(encoding="utf-8"))


def _cache_control(response: Any) -> list[str]:
    """Every Cache-Control field of the answer (one expected)."""
    values: list[str] = response.headers.get_list("cache-control")
    return values


@pytest.mark.parametrize(
    ("method", "path", "key"),
    [
        ("GET", "/v1/outbound", None),
        ("GET", "/v1/inbound", None),
        ("GET", "/v1/units", SUPPORT_KEY),
        ("GET", "/v1/reports", SUPPORT_KEY),
        ("HEAD", "/v1/outbound", None),
    ],
)
def test_json_answers_are_not_stored(api: TestClient, method: str, path: str, key: str | None) -> None:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    response = api.request(method, path, headers=headers)
    assert response.status_code == 200, response.text
    assert _cache_control(response) == ["no-store"]


def test_a_posted_document_answer_is_not_stored(api: TestClient) -> None:
    converted = api.post("/v1/convert", json=SAMPLE)
    assert converted.status_code == 200, converted.text
    assert _cache_control(converted) == ["no-store"]
    ubl = converted.json()["ubl"].encode()
    validated = api.post("/v1/validate", content=ubl, headers={"Content-Type": "application/xml"})
    assert validated.status_code == 200, validated.text
    assert _cache_control(validated) == ["no-store"]


@pytest.mark.parametrize(
    ("method", "path", "headers", "status"),
    [
        ("GET", "/v1/outbound", {"Authorization": "Bearer not-a-key"}, 401),  # the API-key check
        ("GET", "/v1/outbound", {"Authorization": ""}, 401),
        ("GET", "/v1/units", {}, 403),  # the role check
        ("GET", "/v1/outbound/no-such-document", {}, 404),  # the error handlers
        ("GET", "/v1/no-such-route", {}, 404),  # the router
        ("DELETE", "/v1/outbound", {}, 405),
        ("GET", "/v1/outbound?limit=zero", {}, 422),  # the request's validation
        ("GET", "/v1/outbound?since=yesterday", {}, 422),
    ],
)
def test_problem_answers_are_not_stored(
    api: TestClient, method: str, path: str, headers: dict[str, str], status: int
) -> None:
    response = api.request(method, path, headers=headers)
    assert response.status_code == status, response.text
    problem_of(response)
    assert _cache_control(response) == ["no-store"]


def test_a_refused_document_is_not_stored(api: TestClient) -> None:
    document = json.loads(json.dumps(SAMPLE))
    document["currency"] = "ABC"
    response = api.post("/v1/outbound/invoices", json=document)
    assert response.status_code == 422, response.text
    assert problem_of(response)["type"] == "/problems/invalid-document-data"
    assert _cache_control(response) == ["no-store"]


def test_an_absolute_form_target_is_not_stored(api: TestClient) -> None:
    # RequestTargets serves it as its path: the answer is a /v1 answer like the path's own.
    response = api.get("http://gateway.example/v1/outbound/no-such-document")
    assert response.status_code == 404, response.text
    assert _cache_control(response) == ["no-store"]


def test_a_document_file_keeps_its_own_cache_control_once(api: TestClient) -> None:
    submitted = api.post("/v1/outbound/invoices", json=SAMPLE)
    assert submitted.status_code == 202, submitted.text
    document_id = submitted.json()["id"]
    answer = api.get(f"/v1/outbound/{document_id}")
    assert _cache_control(answer) == ["no-store"]
    ubl = api.get(f"/v1/outbound/{document_id}/ubl")
    assert ubl.status_code == 200, ubl.text
    assert _cache_control(ubl) == ["private, no-store"]


@pytest.mark.parametrize("path", ["/healthz", "/metrics", "/openapi.json"])
def test_operations_answers_are_unchanged(api: TestClient, path: str) -> None:
    response = api.get(path)
    assert response.status_code == 200, response.text
    assert _cache_control(response) == []


def test_the_as4_endpoint_is_unchanged(api: TestClient) -> None:
    response = api.post("/as4", content=b"not a message", headers={"Content-Type": "text/plain"})
    assert response.status_code != 200  # no AS4 receiver in these tests: its own refusal
    assert _cache_control(response) == []
