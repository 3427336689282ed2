"""When an Invoice Response waiting for the earlier response to the same received document looks again
(``delivery_deferral.defer_behind``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest

from gateway.model.message import DeliveryStatus
from gateway.services.delivery_deferral import defer_behind
from gateway.services.ports import DeliveryLease, UnitOfWork
from gateway.services.ports.queue import DeliveryJob

AT = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@dataclass
class _Jobs:
    earlier: DeliveryJob | None
    handed_back: list[datetime] = field(default_factory=list)

    def get(self, document_id: str, *, for_update: bool = False) -> DeliveryJob | None:
        return self.earlier

    def hand_back(self, document_id: str, token: str, *, due_at: datetime, error: str) -> None:
        self.handed_back.append(due_at)


@dataclass
class _Documents:
    status: DeliveryStatus | None

    def get(self, document_id: str) -> Any:
        return None if self.status is None else type("Doc", (), {"status": self.status})()


@dataclass
class _UnitOfWork:
    jobs: _Jobs
    outbound: _Documents


def _due(earlier: DeliveryJob | None, status: DeliveryStatus | None = DeliveryStatus.ACCEPTED) -> timedelta:
    uow = _UnitOfWork(_Jobs(earlier), _Documents(status))
    lease = DeliveryLease("later", "token", AT + timedelta(minutes=5), 1, 0)
    result = defer_behind(cast(UnitOfWork, uow), lease, "earlier", at=AT)
    assert result.deferred
    [due] = uow.jobs.handed_back
    return due - AT


@pytest.mark.parametrize(("lease_left", "wait"), [(timedelta(minutes=5), 10), (timedelta(seconds=4), 4)])
def test_while_the_earlier_one_is_sent_it_looks_again_at_its_lease_end_or_10_s_on(
    lease_left: timedelta, wait: int
) -> None:
    job = DeliveryJob("earlier", AT - timedelta(seconds=1), 1, "t", AT + lease_left)
    assert _due(job) == timedelta(seconds=wait)


def test_behind_an_unleased_earlier_one_it_looks_again_just_after_its_next_attempt() -> None:
    assert _due(DeliveryJob("earlier", AT + timedelta(minutes=3), 1)) == timedelta(minutes=3, seconds=1)


def test_without_the_earlier_ones_job_it_goes_at_once_when_that_one_is_final_else_30_s_on() -> None:
    assert _due(None, DeliveryStatus.DELIVERED) == timedelta(0)
    assert _due(None, DeliveryStatus.FAILED) == timedelta(0)
    assert _due(None, DeliveryStatus.ACCEPTED) == timedelta(seconds=30)
