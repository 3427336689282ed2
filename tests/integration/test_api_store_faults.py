"""The API under database connection cuts: every request whose connection is cut - at any of its SQL
statements - answers 503 problem+json with Retry-After (never 500), and the next request works again.

The cut is real (``tests.store_faults.StatementCut``): PostgreSQL terminates the backend, SQLite closes the
file connection, just before the chosen statement runs; the test walks through every statement of each
request in turn.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from gateway.api.errors import DEFAULT_RETRY_AFTER_SECONDS as RETRY_AFTER_SECONDS
from tests.contract.store_databases import postgres_admin_url
from tests.integration.document_api import (  # noqa: F401 - fixtures
    DocumentAPI,
    _document_apis,
    _postgres_url,
    _sqlite_url,
    auth,
    docs_fixture,
    problem_of,
)
from tests.integration.test_api_inbound import seed
from tests.integration.test_api_outbound import body_of
from tests.store_faults import StatementCut
from tests.unit.model.model_builders import invoice_data

Setup = Callable[[DocumentAPI], str]
Request = Callable[[DocumentAPI, str, int], Any]


def _submit(docs: DocumentAPI, _: str, n: int) -> Any:
    data = invoice_data()
    data["number"] = f"CUT-{n}"
    return docs.client.post(
        "/v1/outbound/invoices", content=body_of(data), headers={"Idempotency-Key": f"key-{n}"}
    )


def _outbound(docs: DocumentAPI) -> str:
    response = _submit(docs, "", 0)
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def _inbound(docs: DocumentAPI) -> str:
    return seed(docs)[0]


def _get(path: str, role: str = "support") -> Request:
    return lambda docs, ident, _: docs.client.get(path.format(ident), headers=auth(role))


REQUESTS: dict[str, tuple[Setup, Request, int]] = {
    "submit": (lambda _: "", _submit, 202),
    "status": (_outbound, _get("/v1/outbound/{}", "sender"), 200),
    "ubl": (_outbound, _get("/v1/outbound/{}/ubl"), 200),
    "evidence": (_outbound, _get("/v1/outbound/{}/evidence"), 200),
    "search": (_outbound, _get("/v1/outbound?status=accepted"), 200),
    "retry": (
        _outbound,
        lambda d, i, _: d.client.post(f"/v1/outbound/{i}/retry", headers=auth("support")),
        409,
    ),
    "inbound list": (_inbound, _get("/v1/inbound"), 200),
    "inbound show": (_inbound, _get("/v1/inbound/{}"), 200),
}


@pytest.fixture
def cut(docs: DocumentAPI) -> Iterator[StatementCut]:
    statement_cut = StatementCut(docs.store.engine)
    yield statement_cut
    statement_cut.close()


@pytest.mark.parametrize("name", sorted(REQUESTS))
def test_a_cut_connection_answers_503_with_retry_after_never_500(
    docs: DocumentAPI, cut: StatementCut, name: str
) -> None:
    setup, request, normal = REQUESTS[name]
    ident = setup(docs)
    for n in range(1, 40):
        cut.arm(n)  # the n-th statement of the request loses its connection
        response = request(docs, ident, n)
        if not cut.fired:  # the request ran fewer statements: it completed, on a working store again
            assert response.status_code == normal, response.text
            break
        assert response.status_code == 503, (n, response.status_code, response.text)
        assert response.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
        assert problem_of(response)["type"] == "/problems/store-unavailable"
    else:
        pytest.fail("the request never completed")
    assert n > 1  # at least one statement was cut


@pytest.mark.postgres
def test_backends_terminated_during_traffic_give_503_or_success_never_500(docs: DocumentAPI) -> None:
    if docs.backend != "postgresql":
        pytest.skip("a server that terminates backends is PostgreSQL's")
    ident = _outbound(docs)
    stop = threading.Event()
    database = docs.store.engine.url.database

    def terminate_repeatedly() -> None:
        admin = create_engine(postgres_admin_url(), isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as connection:
                while not stop.wait(0.01):
                    connection.execute(
                        text(
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                            " WHERE datname = :db AND pid <> pg_backend_pid()"
                        ),
                        {"db": database},
                    )
        finally:
            admin.dispose()

    killer = threading.Thread(target=terminate_repeatedly)
    killer.start()
    statuses: list[int] = []
    try:
        for n in range(1, 61):
            for response in (
                _submit(docs, ident, n),
                docs.client.get(f"/v1/outbound/{ident}"),
                docs.client.get("/v1/outbound?status=accepted", headers=auth("support")),
            ):
                statuses.append(response.status_code)
                if response.status_code == 503:
                    assert response.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
    finally:
        stop.set()
        killer.join()
    assert set(statuses) <= {200, 202, 503}, sorted(set(statuses))
    # Once the cuts stop, everything works again.
    assert docs.client.get(f"/v1/outbound/{ident}").status_code == 200
