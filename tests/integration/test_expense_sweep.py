"""The periodic sweep of ``gateway serve`` also drafts the expenses of valid received invoices that have
none (their draft failed with the verdict's unit of work), so they do not wait for the next start-up; a
document that can never become a draft is logged once and given up, not read and logged every minute.
Real stores (SQLite and PostgreSQL), real receive path."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event

from gateway.api.pending_sweep import (
    EXPENSE_SWEEP_WINDOW,
    run_pending_sweep,
    sweep_expenses_once,
)
from gateway.bootstrap import Services
from gateway.errors import StoreError
from gateway.services import expense_draft_reading
from gateway.validation import ValidationEngine
from tests.integration.expense_support import (  # noqa: F401 - fixtures
    ExpenseApp,
    app_fixture,
    auth,
    deliver,
)
from tests.integration.test_expense_workflow import invoice, seed_valid, units

UNREADABLE = b"<Invoice xmlns='urn:oasis:names:specification:ubl:schema:xsd:Invoice-2'/>"


def with_interval(services: Services, seconds: float) -> Services:
    """The same process services with the sweep's timer set to ``seconds``."""
    as4 = services.settings.as4.model_copy(update={"pending_sweep_interval_seconds": seconds})
    return replace(services, settings=services.settings.model_copy(update={"as4": as4}))


def expenses_of(app: ExpenseApp) -> list[Any]:
    items: list[Any] = app.client.get("/v1/expenses", headers=auth("support")).json()["items"]
    return items


def test_the_serve_timer_drafts_an_invoice_whose_draft_failed_with_its_verdict(
    app: ExpenseApp, validation_engine: ValidationEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    units(app)

    def broken(uow: object, inbound_id: str, validated: object) -> Any:
        raise StoreError("database went away")

    monkeypatch.setattr(app.services.expenses._intake, "draft_validated", broken)
    deliver(app.client, invoice(validation_engine))  # asserts a receipt; the verdict is recorded alone
    monkeypatch.undo()
    assert expenses_of(app) == []
    services = with_interval(app.services, 0.05)

    async def sweep_until_drafted() -> None:
        timer = asyncio.create_task(run_pending_sweep(services))
        try:
            deadline = time.monotonic() + 10
            while not await asyncio.to_thread(expenses_of, app):
                assert time.monotonic() < deadline, "the sweep never drafted the expense"
                await asyncio.sleep(0.05)
        finally:
            timer.cancel()

    asyncio.run(sweep_until_drafted())
    [expense] = expenses_of(app)
    assert expense["status"] == "to_approve"


def test_a_document_that_can_never_be_drafted_is_logged_once_and_given_up(
    app: ExpenseApp, validation_engine: ValidationEngine, caplog: pytest.LogCaptureFixture
) -> None:
    units(app)
    unreadable = seed_valid(app, UNREADABLE)
    caplog.set_level(logging.ERROR, logger="gateway.expenses")
    workflow = app.services.expenses
    for _ in range(3):  # three ticks of the sweep
        assert workflow.recover() == 0
    gave_up = [r.getMessage() for r in caplog.records if unreadable in r.getMessage()]
    assert len(gave_up) == 1, gave_up
    assert "no expense draft: " in gave_up[0]  # with the reason support needs
    # It does not hold up the others.
    later = seed_valid(app, invoice(validation_engine))
    assert workflow.recover() == 1
    with app.store.unit_of_work(read_only=True) as uow:
        assert uow.expenses.get_by_inbound(later) is not None
        assert uow.expenses.get_by_inbound(unreadable) is None


def test_a_document_whose_draft_fails_unexpectedly_does_not_stop_the_later_ones(
    app: ExpenseApp,
    validation_engine: ValidationEngine,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    units(app)
    first = seed_valid(app, invoice(validation_engine, "F-1"))
    second = seed_valid(app, invoice(validation_engine, "F-2"))

    def build_draft(document: Any, **kw: Any) -> Any:
        if document.number == "F-1":
            raise KeyError("a bug this document hits")
        return real_build_draft(document, **kw)

    real_build_draft = expense_draft_reading.build_draft
    monkeypatch.setattr(expense_draft_reading, "build_draft", build_draft)
    caplog.set_level(logging.ERROR, logger="gateway.expenses")
    workflow = app.services.expenses
    assert workflow.recover() == 1
    assert workflow.recover() == 0  # the next tick neither retries nor logs the first again
    with app.store.unit_of_work(read_only=True) as uow:
        assert uow.expenses.get_by_inbound(first) is None
        assert uow.expenses.get_by_inbound(second) is not None
    logged = [r for r in caplog.records if first in r.getMessage()]
    assert len(logged) == 1
    assert logged[0].exc_info is not None  # with the traceback the bug needs


def test_a_failing_store_ends_the_expense_sweep(
    app: ExpenseApp, validation_engine: ValidationEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    units(app)
    seed_valid(app, invoice(validation_engine))
    intake = app.services.expenses._intake

    def broken(inbound_id: str, body: bytes | None = None) -> Any:
        raise StoreError("database went away")

    monkeypatch.setattr(intake, "create_from_inbound", broken)
    with pytest.raises(StoreError):
        app.services.expenses.recover()
    assert not intake._given_up  # retried at the next tick


def test_the_periodic_sweep_looks_back_one_window_and_the_start_up_recovery_at_everything(
    app: ExpenseApp, validation_engine: ValidationEngine
) -> None:
    units(app)
    now = app.services.clock.now()
    old = seed_valid(
        app, invoice(validation_engine, "F-1"), received_at=now - EXPENSE_SWEEP_WINDOW - timedelta(minutes=1)
    )
    recent = seed_valid(
        app, invoice(validation_engine, "F-2"), received_at=now - EXPENSE_SWEEP_WINDOW + timedelta(minutes=1)
    )
    assert sweep_expenses_once(app.services) == 1
    assert sweep_expenses_once(app.services) == 0
    with app.store.unit_of_work(read_only=True) as uow:
        assert uow.expenses.get_by_inbound(recent) is not None
        assert uow.expenses.get_by_inbound(old) is None
    assert app.services.expenses.recover() == 1  # start-up
    with app.store.unit_of_work(read_only=True) as uow:
        assert uow.expenses.get_by_inbound(old) is not None


def test_the_periodic_sweep_reads_an_index_range_not_the_history(app: ExpenseApp) -> None:
    engine = app.store.engine
    if engine.dialect.name != "sqlite":
        pytest.skip("the query plan checked is SQLite's")
    statements: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "expense_duplicates" in statement:
            statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        with app.store.unit_of_work(read_only=True) as uow:
            uow.expenses.awaiting_draft(limit=10, received_since=app.services.clock.now())
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    [(statement, parameters)] = statements
    with engine.connect() as connection:
        plan = " | ".join(
            str(row[-1]) for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
        )
    # The documents of the window through the (status, received_at) index; each one's expense and
    # duplicate through their unique indexes: no scan of a table.
    assert "(status=? AND received_at>?)" in plan, plan
    assert "SCAN" not in plan, plan


def test_the_timer_looks_at_the_whole_history_first_when_the_start_up_recovery_did_not_run(
    app: ExpenseApp, validation_engine: ValidationEngine
) -> None:
    # An invoice received long before its draft was looked for: the start-up recovery was skipped (the
    # store was not up yet), and the windowed sweep alone would never draft it.
    units(app)
    now = app.services.clock.now()
    old = seed_valid(app, invoice(validation_engine, "F-1"), received_at=now - 10 * EXPENSE_SWEEP_WINDOW)
    services = with_interval(app.services, 0.05)

    def drafted() -> bool:
        with app.store.unit_of_work(read_only=True) as uow:
            return uow.expenses.get_by_inbound(old) is not None

    async def sweep_until_drafted() -> None:
        timer = asyncio.create_task(run_pending_sweep(services))
        try:
            deadline = time.monotonic() + 10
            while not await asyncio.to_thread(drafted):
                assert time.monotonic() < deadline, "the timer never drafted the old invoice"
                await asyncio.sleep(0.05)
        finally:
            timer.cancel()

    asyncio.run(sweep_until_drafted())


def test_the_whole_history_pass_retries_a_document_given_up_before(
    app: ExpenseApp, validation_engine: ValidationEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    units(app)
    first = seed_valid(app, invoice(validation_engine, "F-1"))
    intake = app.services.expenses._intake
    real = intake.create_from_inbound

    def once_broken(inbound_id: str, body: bytes | None = None) -> Any:
        monkeypatch.setattr(intake, "create_from_inbound", real)
        raise KeyError("a transient bug")

    monkeypatch.setattr(intake, "create_from_inbound", once_broken)
    assert sweep_expenses_once(app.services) == 0  # given up
    assert sweep_expenses_once(app.services) == 0  # stepped over, not retried
    assert first in intake._given_up
    assert sweep_expenses_once(app.services, whole_history=True) == 0  # the first tick's pass: not yet
    assert sweep_expenses_once(app.services, whole_history=True, retry_given_up=True) == 1
    with app.store.unit_of_work(read_only=True) as uow:
        assert uow.expenses.get_by_inbound(first) is not None


def test_the_first_tick_does_not_log_again_what_the_start_up_recovery_gave_up(
    app: ExpenseApp, caplog: pytest.LogCaptureFixture
) -> None:
    units(app)
    unreadable = seed_valid(app, UNREADABLE)
    caplog.set_level(logging.ERROR, logger="gateway.expenses")

    def logged() -> int:
        return sum(unreadable in r.getMessage() for r in caplog.records)

    app.services.expenses.recover()  # start-up
    sweep_expenses_once(app.services, whole_history=True)  # the timer's first tick
    sweep_expenses_once(app.services)  # the next ones
    assert logged() == 1
    sweep_expenses_once(app.services, whole_history=True, retry_given_up=True)  # WHOLE_HISTORY_EVERY later
    assert logged() == 2
