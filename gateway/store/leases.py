"""When a row of a leased queue (delivery jobs, webhook outbox) is up for a lease: due, and not leased or its
lease ran out. One definition for the queues' own lease statement (``store.queue``) and the idle worker's
wake-up read (``store.job_signal``), so the two cannot drift apart."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Table, and_, or_


def up_for_lease(table: Table, now: Any) -> ColumnElement[bool]:
    """Due at ``now`` and not leased, or leased until no later than ``now`` (an expired lease: its holder
    crashed or stalled, so the row is due again). ``now``: a datetime or a bound parameter."""
    return and_(
        table.c.due_at <= now,
        or_(table.c.leased_until.is_(None), table.c.leased_until <= now),
    )
