"""No input makes the API answer 5xx: hostile values get a 422 naming the field, and our own bugs get a
problem+json 500 with an error id on a connection that stays usable (real uvicorn server, loopback)."""

from __future__ import annotations

import base64
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from gateway.api.app import create_app
from gateway.api.deps import get_services
from gateway.bootstrap import Services
from gateway.config import Settings
from gateway.store import SQLDocumentStore, upgrade_database
from gateway.validation import ValidationEngine
from tests.integration.conftest import SENDER_KEY, problem_of

DOCUMENTS = Path(__file__).parents[1] / "data" / "documents"
SAMPLE: dict[str, Any] = json.loads((DOCUMENTS / "be-domestic-mixed-rates.json").read_text(encoding="utf-8"))
ROUTES = ["/v1/convert", "/v1/outbound/invoices"]


def with_line_value(field: str, value: str) -> dict[str, Any]:
    document = json.loads(json.dumps(SAMPLE))
    line = document["lines"][0]
    if field == "price":
        line["price"] = {"net_amount": value}
    else:
        line[field] = value
    return document


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize(
    ("field", "value", "where"),
    [
        ("quantity", "1e25", "lines.0.quantity"),
        ("quantity", "12345678901234567890123456789", "lines.0.quantity"),
        ("net_amount", "1e26", "lines.0.net_amount"),
        ("price", "1e25", "lines.0.price.net_amount"),
    ],
)
def test_huge_numbers_are_a_422_naming_the_field(
    api: TestClient, route: str, field: str, value: str, where: str
) -> None:
    response = api.post(route, json=with_line_value(field, value))
    assert response.status_code == 422, response.text
    problem = problem_of(response)
    assert any(str(error).startswith(where) for error in problem["errors"]), problem  # type: ignore[attr-defined]


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("char", ["\u0000", "\u0001", "\u001f", "\ufffe"])
@pytest.mark.parametrize(
    ("path", "where"),
    [(("notes", 0), "notes.0"), (("buyer", "legal_name"), "buyer.legal_name"), (("number",), "number")],
)
def test_control_characters_are_a_422_naming_the_field(
    api: TestClient, route: str, char: str, path: tuple[str | int, ...], where: str
) -> None:
    document = json.loads(json.dumps(SAMPLE))
    target: Any = document
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = f"text {char} text"
    response = api.post(route, json=document)
    assert response.status_code == 422, response.text
    errors = [str(e) for e in problem_of(response)["errors"]]  # type: ignore[attr-defined]
    assert any(e.startswith(where) and f"U+{ord(char):04X}" in e for e in errors), errors


# -- our own bugs ---------------------------------------------------------------------------------------


class Bug(RuntimeError):
    """The programming error the tests inject."""


def broken_services() -> Services:
    raise Bug("injected: the services container is broken")


@pytest.fixture
def broken_app(
    api_settings: Settings, validation_engine: ValidationEngine, tmp_path: Path
) -> Iterator[FastAPI]:
    url = f"sqlite:///{tmp_path / 'api.db'}"
    upgrade_database(url)
    services = Services(
        settings=api_settings, validation=validation_engine, store=SQLDocumentStore.from_url(url)
    )
    app = create_app(api_settings, services=services, warm=False)
    app.dependency_overrides[get_services] = broken_services
    yield app
    services.close()


@pytest.fixture
def server(broken_app: FastAPI) -> Iterator[str]:
    """The app under a real uvicorn server on a loopback port; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(broken_app, log_level="warning", lifespan="on", timeout_keep_alive=30)
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not uv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    uv.should_exit = True
    thread.join(timeout=10)
    sock.close()


def local_port(response: httpx.Response) -> int:
    stream = response.extensions["network_stream"]
    port: int = stream.get_extra_info("client_addr")[1]
    return port


def test_an_unexpected_error_is_a_500_problem_and_the_connection_stays_usable(
    server: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="gateway.api")
    with httpx.Client(base_url=server, headers={"Authorization": f"Bearer {SENDER_KEY}"}) as client:
        failed = client.get("/v1/outbound")
        first_port = local_port(failed)
        assert failed.status_code == 500
        problem = problem_of(failed)
        assert problem["type"] == "/problems/internal"
        error_id = problem["error_id"]
        assert isinstance(error_id, str)
        assert len(error_id) == 32
        assert error_id in str(problem["detail"])
        assert "injected" not in failed.text  # nothing internal leaks
        assert failed.headers.get("connection", "").lower() != "close"
        # The same keep-alive connection answers the next request.
        after = client.get("/healthz")
        assert after.status_code == 200
        assert local_port(after) == first_port
        again = client.post("/v1/convert", json=SAMPLE)
        assert again.status_code == 500
        assert local_port(again) == first_port
    records = [r for r in caplog.records if error_id in r.getMessage()]
    assert records, "the error id is logged"
    assert records[0].exc_info is not None
    assert records[0].exc_info[0] is Bug


def test_an_unexpected_error_answers_through_the_test_client_too(broken_app: FastAPI) -> None:
    with TestClient(broken_app, raise_server_exceptions=True) as client:
        response = client.get("/v1/outbound", headers={"Authorization": f"Bearer {SENDER_KEY}"})
    assert response.status_code == 500
    assert problem_of(response)["type"] == "/problems/internal"
    assert response.headers["x-request-id"]
    assert response.headers["cache-control"] == "no-store"  # a /v1 answer like any (``api.no_store``)


@pytest.mark.parametrize("route", ["/v1/outbound", "/v1/inbound"])
@pytest.mark.parametrize("since", ["0.5", "1700000000", "2026-11-02", "2026-11-02T09:00:00", "yesterday"])
def test_since_must_be_an_rfc3339_date_time(api: TestClient, route: str, since: str) -> None:
    response = api.get(route, params={"since": since})
    assert response.status_code == 422, response.text
    assert "since" in str(problem_of(response)["errors"])


@pytest.mark.parametrize("route", ["/v1/outbound", "/v1/inbound"])
@pytest.mark.parametrize("since", ["2026-11-02T09:00:00Z", "2026-11-02T10:00:00.5+01:00"])
def test_since_takes_an_rfc3339_date_time(api: TestClient, route: str, since: str) -> None:
    assert api.get(route, params={"since": since}).status_code == 200


@pytest.mark.parametrize("route", ROUTES)
def test_a_currency_outside_iso_4217_is_a_422_naming_the_field(api: TestClient, route: str) -> None:
    document = json.loads(json.dumps(SAMPLE))
    document["currency"] = "ABC"
    response = api.post(route, json=document)
    assert response.status_code == 422, response.text
    problem = problem_of(response)
    assert problem["type"] == "/problems/invalid-document-data"
    assert [str(e) for e in problem["errors"]] == [  # type: ignore[attr-defined]
        "currency: Value error, 'ABC' is not an ISO 4217 currency code (BR-CL-04)"
    ]


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("content", ["AAAA====", "QUJD=", "QR==", "QU\u00a0JD"])
def test_attachment_content_outside_xs_base64binary_is_a_422_naming_the_field(
    api: TestClient, route: str, content: str
) -> None:
    # b64decode(validate=True) accepts these; the UBL's XSD (xs:base64Binary) does not.
    document = json.loads(json.dumps(SAMPLE))
    document["attachments"] = [
        {"id": "att-1", "content": content, "mime_code": "application/pdf", "filename": "a.pdf"}
    ]
    response = api.post(route, json=document)
    assert response.status_code == 422, response.text
    problem = problem_of(response)
    assert problem["type"] == "/problems/invalid-document-data"
    [error] = [str(e) for e in problem["errors"]]  # type: ignore[attr-defined]
    assert error.startswith(
        "attachments.0.content: Value error, BT-125 attached document is not valid base64 (xs:base64Binary"
    )


@pytest.mark.parametrize("route", ROUTES)
def test_wrapped_attachment_content_is_accepted(api: TestClient, route: str) -> None:
    encoded = base64.b64encode(b"%PDF-1.4 " * 40).decode()
    document = json.loads(json.dumps(SAMPLE))
    document["number"] = "WRAPPED-ATTACHMENT-1"  # the store is the session's: a number no other test sends
    document["attachments"] = [
        {
            "id": "att-1",
            "content": "\r\n".join(encoded[i : i + 76] for i in range(0, len(encoded), 76)) + "\n",
            "mime_code": "application/pdf",
            "filename": "a.pdf",
        }
    ]
    response = api.post(route, json=document)
    assert response.status_code == {"/v1/convert": 200, "/v1/outbound/invoices": 202}[route], response.text
