"""GET /metrics: ``gateway_expenses_first_response_overdue``, the expenses in triage whose supplier's first
Invoice Response (AB) is past its deadline (3 Belgian working days after receipt), counted at scrape time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from gateway.model.expense import ExpenseStatus
from gateway.store import SQLDocumentStore
from tests.contract.store_builders import received_expense
from tests.integration.test_metrics import (  # noqa: F401 - fixtures
    make_app,
    postgres_database,
    scrape,
    store,
)

#: The metrics app's clock (``test_metrics.NOW``): Monday 2 March 2026, 11:30 in Brussels.
NOW = datetime(2026, 3, 2, 10, 30, 0, 123456, tzinfo=UTC)


def _expense(target: SQLDocumentStore, status: ExpenseStatus, received: datetime) -> None:
    received_expense(target, status=status, received=received)


def test_the_overdue_first_responses_of_the_triage_queue_are_a_gauge(
    store: SQLDocumentStore,  # noqa: F811 - the fixture imported above
) -> None:
    with TestClient(make_app(store)) as client:
        assert scrape(client)[("gateway_expenses_first_response_overdue", ())] == 0
    # Received Tuesday 24 February (due Friday 27 February 24:00): overdue on Monday 2 March.
    _expense(store, ExpenseStatus.TO_TRIAGE, NOW - timedelta(days=6))
    # Received Wednesday 25 February: due Monday 2 March 24:00, not yet overdue.
    _expense(store, ExpenseStatus.TO_TRIAGE, NOW - timedelta(days=5))
    # Routed long ago: its AB went on receipt, nothing is awaited.
    _expense(store, ExpenseStatus.TO_APPROVE, NOW - timedelta(days=30))
    with TestClient(make_app(store)) as client:
        assert scrape(client)[("gateway_expenses_first_response_overdue", ())] == 1
