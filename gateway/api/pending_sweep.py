"""The timer of ``gateway serve`` that validates received documents left awaiting their verdict (the store
failed through every try after the receipt, or their work after it was not queued: ``_Backlog`` in
``api/routes/as4.py``) once they are older than ``as4.pending_sweep_age_seconds``, drafts the expenses of
valid received invoices that have none (their draft failed with the verdict's unit of work), so neither
waits for the next start-up, and applies the received answers (MLS, Invoice Responses) left held although
the receipt of the document they answer is recorded by now (the worker applies them with the receipt and at
its start-up; one left held then - a worker without the hook, an answer that could not be read at that
moment - would wait for the worker's next start-up). Small batches, off the event loop.

The expense sweep looks at the whole history at its first tick and then every ``WHOLE_HISTORY_EVERY``
(until such a pass succeeds, at every tick): that covers a start-up recovery that was skipped (no receiver
configured, the store not up yet) and documents whose verdict came more than a window after their receipt
(a longer outage); the whole-history pass also retries the documents given up since the last one. The
ticks in between look at the documents received within ``EXPENSE_SWEEP_WINDOW`` only (an index range on
``inbound_documents (status, received_at)``): the whole history, anti-joined every minute in every
``serve`` process, grows with every drafted invoice."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Final

import anyio.to_thread

from gateway.bootstrap import Services
from gateway.errors import StoreError
from gateway.services.receive_recovery import CLAIM_FOR

log = logging.getLogger("gateway.api.pending_sweep")

#: How far back (by receipt) the periodic expense sweep looks for valid documents without their draft.
EXPENSE_SWEEP_WINDOW: Final = timedelta(days=1)
#: How often the expense sweep looks at the whole history (and retries the documents it gave up).
WHOLE_HISTORY_EVERY: Final = timedelta(hours=6)


def sweep_pending_once(services: Services) -> int:
    """Validate the pending received documents older than the configured age (none without a receiver).
    With ``GATEWAY_AS4__AFTER_RECEIPT=worker`` the sweep claims each as the workers do, so it leaves those a
    live worker holds and no worker takes the one it validates.

    Raises:
        StoreError: the store failed.
    """
    receiver = services.receiver
    if receiver is None:
        return 0
    as4 = services.settings.as4
    age = timedelta(seconds=as4.pending_sweep_age_seconds)
    return receiver.sweep_pending(
        older_than=age, claim_for=CLAIM_FOR if as4.after_receipt == "worker" else None
    )


def sweep_expenses_once(
    services: Services, *, whole_history: bool = False, retry_given_up: bool = False
) -> int:
    """Create the missing expense drafts of valid documents received within ``EXPENSE_SWEEP_WINDOW``, or
    of all of them with ``whole_history`` (``ExpenseWorkflow.recover``: those that can never become one
    are logged once and given up; ``retry_given_up`` tries those once more).

    Raises:
        StoreError: the store failed.
    """
    if whole_history:
        return services.expenses.recover(retry_given_up=retry_given_up)
    return services.expenses.recover(received_since=services.clock.now() - EXPENSE_SWEEP_WINDOW)


def apply_held_answers_once(services: Services) -> int:
    """Apply the held answers whose document's receipt is recorded by now (``ReceivedAnswers.recover``;
    one still waiting for our receipt stays held, each is applied once whichever process takes it).

    Raises:
        StoreError: the store failed (what was applied before stays applied).
    """
    return services.received_answers.recover()


async def run_pending_sweep(services: Services) -> None:
    """Sweep every ``as4.pending_sweep_interval_seconds`` (until cancelled); the first sweep comes one
    interval after start-up (start-up recovery has just run). A failing store is logged and retried at
    the next tick."""
    interval = services.settings.as4.pending_sweep_interval_seconds
    whole_history_at: float | None = None  # monotonic time of the last whole-history pass that succeeded
    while True:
        await asyncio.sleep(interval)
        swept = await _tick(services, sweep_pending_once, "received documents awaiting validation")
        if swept:
            log.warning("validated %d received documents left awaiting their verdict", swept)
        now = time.monotonic()
        whole = whole_history_at is None or now - whole_history_at >= WHOLE_HISTORY_EVERY.total_seconds()
        # The first tick's whole-history pass leaves alone what the start-up recovery has just given up
        # (and logged); the later ones try it once more.
        sweep = (
            functools.partial(
                sweep_expenses_once, whole_history=True, retry_given_up=whole_history_at is not None
            )
            if whole
            else sweep_expenses_once
        )
        drafted = await _tick(services, sweep, "valid received documents awaiting a draft")
        if whole and drafted is not None:
            whole_history_at = now
        if drafted:
            log.warning("created %d expense drafts left out after their verdict", drafted)
        applied = await _tick(services, apply_held_answers_once, "held received answers")
        if applied:
            log.warning("applied %d received answers left held after our receipt", applied)


async def _tick(services: Services, sweep: Callable[[Services], int], what: str) -> int | None:
    """The sweep's count, or None: it failed (logged; tried again at the next tick)."""
    try:
        return await anyio.to_thread.run_sync(sweep, services)
    except StoreError as exc:
        log.warning("sweep of %s skipped: %s", what, exc)
    except Exception:  # a bug: logged, the timer keeps running
        log.exception("sweep of %s failed", what)
    return None
