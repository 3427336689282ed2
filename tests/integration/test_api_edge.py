"""Issue 13 at the API edge: bodies are read after authentication through one bounded reader, bodies held
at once are capped, and the JSON body of /v1/convert is still documented."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from asgi_calls import call
from fastapi import FastAPI
from fastapi.testclient import TestClient

from gateway.api.app import create_app
from gateway.bootstrap import Services
from gateway.config import Settings
from gateway.config.access import APIKey
from gateway.store import SQLDocumentStore, upgrade_database
from gateway.validation import ValidationEngine
from tests.integration.conftest import SENDER_KEY, SUPPORT_KEY, problem_of

MIB = 1024 * 1024
DOCUMENTS = Path(__file__).parents[1] / "data" / "documents"
#: A member's key: approve, reject and query are members' actions (support gets 403 before any body is read).
MEMBER_KEY = "member-key-0123456789abcdefghij"


@pytest.fixture
def edge_app(
    api_settings: Settings, validation_engine: ValidationEngine, tmp_path: Path
) -> Iterator[FastAPI]:
    url = f"sqlite:///{tmp_path / 'edge.db'}"
    upgrade_database(url)
    settings = api_settings.model_copy(
        update={
            "api": api_settings.api.model_copy(
                update={
                    "max_concurrent_bodies": 1,
                    "keys": [
                        *api_settings.api.keys,
                        APIKey.model_validate(
                            {"name": "member-edge", "role": "member", "key": MEMBER_KEY, "units": ["PU-1"]}
                        ),
                    ],
                }
            ),
            "server": api_settings.server.model_copy(
                update={"body_slot_wait_seconds": 0.3, "retry_after_seconds": 7}
            ),
        }
    )
    services = Services(settings=settings, validation=validation_engine, store=SQLDocumentStore.from_url(url))
    yield create_app(settings, services=services, warm=False)
    services.close()


@pytest.mark.parametrize("path", ["/v1/convert", "/v1/validate", "/v1/outbound/invoices"])
def test_a_body_without_a_key_is_never_read(edge_app: FastAPI, path: str) -> None:
    # 800 one-MiB chunks (what an 800 MB upload sends): refused on the headers, not parsed.
    headers = [("content-type", "application/json")]
    result = anyio.run(lambda: call(edge_app, "POST", path, headers, chunk=b"{" * MIB, chunks=800))
    assert result.status == 401
    assert result.pulled == 0


#: The unit and expense action routes with a JSON body (they used to declare it as a pydantic parameter, so
#: FastAPI read and parsed it before the key was checked).
JSON_ACTION_ROUTES = [
    ("PUT", "/v1/units"),
    ("PUT", "/v1/units/PU-04711"),
    ("POST", "/v1/expenses/some-expense/assign"),
    ("POST", "/v1/expenses/some-expense/reject"),
    ("POST", "/v1/expenses/some-expense/query"),
    ("POST", "/v1/expenses/some-expense/answer"),
    ("POST", "/v1/expenses/some-expense/approve"),
    ("POST", "/v1/expenses/some-expense/mark-paid"),
    ("POST", "/v1/expenses/some-expense/settle"),
]


@pytest.mark.parametrize(("method", "path"), JSON_ACTION_ROUTES)
def test_an_action_body_without_a_key_or_role_is_never_read(
    edge_app: FastAPI, method: str, path: str
) -> None:
    json_type = ("content-type", "application/json")
    unauthenticated = anyio.run(
        lambda: call(edge_app, method, path, [json_type], chunk=b"[" * MIB, chunks=800)
    )
    assert unauthenticated.status == 401
    assert unauthenticated.pulled == 0
    # The invoicing system's key may neither manage units nor act on expenses: refused on the headers too.
    headers = [json_type, ("authorization", f"Bearer {SENDER_KEY}")]
    refused = anyio.run(lambda: call(edge_app, method, path, headers, chunk=b"[" * MIB, chunks=800))
    assert refused.status == 403
    assert refused.pulled == 0


@pytest.mark.parametrize(
    ("key", "path"),
    [
        (SUPPORT_KEY, "/v1/expenses/some-expense/assign"),
        (SUPPORT_KEY, "/v1/expenses/some-expense/answer"),
        (SUPPORT_KEY, "/v1/expenses/some-expense/mark-paid"),
        (SUPPORT_KEY, "/v1/expenses/some-expense/settle"),
        (MEMBER_KEY, "/v1/expenses/some-expense/approve"),
        (MEMBER_KEY, "/v1/expenses/some-expense/reject"),
        (MEMBER_KEY, "/v1/expenses/some-expense/query"),
    ],
)
def test_an_action_body_is_read_through_the_bounded_reader(edge_app: FastAPI, key: str, path: str) -> None:
    headers = [("authorization", f"Bearer {key}"), ("content-type", "application/json")]
    declared = [*headers, ("content-length", str(800 * MIB))]
    too_large = anyio.run(lambda: call(edge_app, "POST", path, declared, chunk=b" " * MIB, chunks=800))
    assert too_large.status == 413
    assert too_large.pulled == 0
    undeclared = anyio.run(lambda: call(edge_app, "POST", path, headers, chunk=b" " * MIB, chunks=800))
    assert undeclared.status == 413
    assert undeclared.pulled <= 3  # the limit is 2 MiB


@pytest.mark.parametrize("path", ["/v1/expenses/some-expense/approve", "/v1/expenses/some-expense/reject"])
def test_an_action_the_role_may_not_take_is_refused_before_its_body_is_read(
    edge_app: FastAPI, path: str
) -> None:
    headers = [("authorization", f"Bearer {SUPPORT_KEY}"), ("content-type", "application/json")]
    refused = anyio.run(lambda: call(edge_app, "POST", path, headers, chunk=b" " * MIB, chunks=800))
    assert (refused.status, refused.pulled) == (403, 0)


@pytest.mark.parametrize(
    ("key", "path", "limit"),
    [
        (SUPPORT_KEY, "/v1/expenses/some-expense/settle", 1024),
        (MEMBER_KEY, "/v1/expenses/some-expense/approve", 1024),
        # Room for the explanation of a partial payment (500 characters).
        (SUPPORT_KEY, "/v1/expenses/some-expense/mark-paid", 4096),
    ],
)
def test_an_action_with_few_parameters_takes_no_body_slot_and_a_small_body(
    edge_app: FastAPI, key: str, path: str, limit: int
) -> None:
    """Approve and mark-paid held one of the body slots the invoicing system's 20 MB submissions share for
    their whole action: behind uploads they waited, then 503; meanwhile a submission waited for them."""
    upload = [("authorization", f"Bearer {SENDER_KEY}"), ("content-type", "application/xml")]
    headers = [("authorization", f"Bearer {key}"), ("content-type", "application/json")]

    async def scenario() -> tuple[int, int, int]:
        slow_done = anyio.Event()
        async with anyio.create_task_group() as tg:
            tg.start_soon(
                lambda: call(edge_app, "POST", "/v1/validate", upload, chunk=b"<", chunks=1, stall=slow_done)
            )
            await anyio.sleep(0.2)  # the slow upload holds the only body slot
            taken = edge_app.state.api_body_slots.taken
            acted = await call(edge_app, "POST", path, headers, chunk=b"{}", chunks=1)
            slow_done.set()
        return taken, acted.status, edge_app.state.api_body_slots.taken

    taken, status, after = anyio.run(scenario)
    assert (taken, status, after) == (1, 404, 0)  # no such expense, answered at once: no 503
    fits = anyio.run(lambda: call(edge_app, "POST", path, headers, chunk=b" " * limit, chunks=1))
    assert fits.status == 404
    over = anyio.run(lambda: call(edge_app, "POST", path, headers, chunk=b" " * (limit + 1), chunks=1))
    assert over.status == 413
    declared = [*headers, ("content-length", str(limit + 1))]
    refused = anyio.run(lambda: call(edge_app, "POST", path, declared, chunk=b" " * (limit + 1), chunks=1))
    assert (refused.status, refused.pulled) == (413, 0)


def test_convert_refuses_a_large_body_by_its_declared_length_before_reading(edge_app: FastAPI) -> None:
    headers = [
        ("authorization", f"Bearer {SENDER_KEY}"),
        ("content-type", "application/json"),
        ("content-length", str(800 * MIB)),
    ]
    result = anyio.run(lambda: call(edge_app, "POST", "/v1/convert", headers, chunk=b" " * MIB, chunks=800))
    assert result.status == 413
    assert result.pulled == 0


def test_convert_stops_reading_an_undeclared_body_at_the_limit(edge_app: FastAPI) -> None:
    headers = [("authorization", f"Bearer {SENDER_KEY}"), ("content-type", "application/json")]
    result = anyio.run(lambda: call(edge_app, "POST", "/v1/convert", headers, chunk=b" " * MIB, chunks=800))
    assert result.status == 413
    assert result.pulled <= 3  # the limit is 2 MiB


def test_convert_still_converts_and_reports_bad_json_as_a_problem(edge_app: FastAPI) -> None:
    document = (DOCUMENTS / "be-zero-rated.json").read_bytes()
    with TestClient(edge_app, headers={"Authorization": f"Bearer {SENDER_KEY}"}) as client:
        ok = client.post("/v1/convert", content=document, headers={"Content-Type": "application/json"})
        assert ok.status_code == 200, ok.text
        assert ok.json()["ubl"].startswith("<?xml")
        json_type = {"Content-Type": "application/json"}
        bad = client.post("/v1/convert", content=b'{"kind": "invoice"', headers=json_type)
        assert bad.status_code == 422
        assert problem_of(bad)["errors"]
        spec = client.get("/openapi.json").json()
    body = spec["paths"]["/v1/convert"]["post"]["requestBody"]
    assert body["required"] is True
    assert "properties" in json.dumps(body["content"]["application/json"]["schema"])


def test_bodies_held_at_once_are_capped_with_503_and_retry_after(edge_app: FastAPI) -> None:
    headers = [("authorization", f"Bearer {SENDER_KEY}"), ("content-type", "application/xml")]

    async def scenario() -> tuple[int, str, int]:
        slow_done = anyio.Event()
        statuses: list[int] = []
        async with anyio.create_task_group() as tg:

            async def slow() -> None:
                result = await call(
                    edge_app, "POST", "/v1/validate", headers, chunk=b"<", chunks=1, stall=slow_done
                )
                statuses.append(result.status)

            tg.start_soon(slow)
            await anyio.sleep(0.2)  # the slow client holds the only body slot
            busy = await call(edge_app, "POST", "/v1/validate", headers, chunk=b"<x/>", chunks=1)
            slow_done.set()
        return busy.status, busy.headers.get("retry-after", ""), statuses[0]

    busy, retry_after, first = anyio.run(scenario)
    assert busy == 503
    assert retry_after == "7"  # settings.server.retry_after_seconds
    assert first in (200, 400)  # the slow one was served


def test_every_503_names_the_one_configured_retry_after(edge_app: FastAPI, tmp_path: Path) -> None:
    """Store unavailable on /v1, /as4 unable to receive: the same ``settings.server.retry_after_seconds``
    as the busy 503 above (one policy, README *Configuration*)."""
    with TestClient(edge_app, headers={"Authorization": f"Bearer {SENDER_KEY}"}) as client:
        as4 = client.post("/as4", content=b"x", headers={"Content-Type": "multipart/related"})
        with sqlite3.connect(tmp_path / "edge.db") as db:
            db.execute("DROP TABLE outbound_documents")  # every document read now fails
        store = client.get("/v1/outbound/00000000-0000-0000-0000-000000000000")
    assert (as4.status_code, as4.headers.get("retry-after")) == (503, "7"), as4.text
    assert (store.status_code, store.headers.get("retry-after")) == (503, "7"), store.text


OPERATIONS = ["/metrics", "/openapi.json", "/docs", "/redoc"]


def test_operations_endpoints_need_a_key_and_probes_stay_open(edge_app: FastAPI) -> None:
    with TestClient(edge_app) as client:
        for path in OPERATIONS:
            refused = client.get(path)
            assert refused.status_code == 401, path
            assert problem_of(refused)["status"] == 401
            assert client.get(path, headers={"X-API-Key": SENDER_KEY}).status_code == 200, path
        assert client.get("/healthz").status_code == 200
        assert client.get("/readyz").status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        [("authorization", f"Bearer {SENDER_KEY}"), ("x-api-key", SUPPORT_KEY)],
        [("authorization", f"Bearer {SENDER_KEY}"), ("authorization", f"Bearer {SUPPORT_KEY}")],
        [("x-api-key", SENDER_KEY), ("x-api-key", SUPPORT_KEY)],
    ],
    ids=["bearer-and-x-api-key", "two-bearers", "two-x-api-keys"],
)
def test_two_different_keys_in_one_request_are_refused(
    edge_app: FastAPI, headers: list[tuple[str, str]]
) -> None:
    """Which of two keys would act (and with whose role) is not for the gateway to guess: X-API-Key used
    to win over the Bearer key silently, and the first of two header lines over the second."""
    with TestClient(edge_app) as client:
        for path in ["/v1/inbound", "/metrics"]:
            refused = client.get(path, headers=headers)
            assert refused.status_code == 401, path
            assert "two different API keys" in str(problem_of(refused)["title"]), path
        same = [("authorization", f"Bearer {SENDER_KEY}"), ("x-api-key", SENDER_KEY)]
        assert client.get("/v1/inbound", headers=same).status_code == 200


def test_operations_endpoints_can_be_opened(
    api_settings: Settings, validation_engine: ValidationEngine, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'open.db'}"
    upgrade_database(url)
    settings = api_settings.model_copy(
        update={"server": api_settings.server.model_copy(update={"open_operations": True})}
    )
    services = Services(settings=settings, validation=validation_engine, store=SQLDocumentStore.from_url(url))
    try:
        with TestClient(create_app(settings, services=services, warm=False)) as client:
            assert [client.get(path).status_code for path in OPERATIONS] == [200] * len(OPERATIONS)
    finally:
        services.close()


def test_bytes_buffered_at_once_are_bounded_over_all_routes(
    api_settings: Settings, validation_engine: ValidationEngine, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'budget.db'}"
    upgrade_database(url)
    server = api_settings.server.model_copy(update={"max_buffered_body_bytes": MIB})
    settings = api_settings.model_copy(update={"server": server})
    services = Services(settings=settings, validation=validation_engine, store=SQLDocumentStore.from_url(url))
    app = create_app(settings, services=services, warm=False)
    headers = [("authorization", f"Bearer {SENDER_KEY}"), ("content-type", "application/xml")]
    try:
        # 1.5 MiB: under the 2 MiB body limit, over the process budget of 1 MiB.
        result = anyio.run(
            lambda: call(app, "POST", "/v1/validate", headers, chunk=b" " * (MIB // 2), chunks=3)
        )
        assert result.status == 503
        assert result.headers["retry-after"] == "5"
        assert app.state.body_budget.used == 0  # given back
        small = anyio.run(lambda: call(app, "POST", "/v1/validate", headers, chunk=b"<x/>", chunks=1))
        assert small.status in (200, 400)
    finally:
        services.close()
