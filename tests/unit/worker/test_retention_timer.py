"""The worker's retention timer and the composition of the e-mail channel."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from gateway.bootstrap import Services
from gateway.config import Settings
from gateway.services.email_fallback import EmailChannel
from gateway.services.ports import IdempotencyRecord
from gateway.store import SQLDocumentStore, upgrade_database
from gateway.transport.smtp import SMTPMailer
from gateway.worker.retention import run_retention

NOW = datetime(2026, 12, 1, tzinfo=UTC)


class _Clock:
    def now(self) -> datetime:
        return NOW


def test_the_email_channel_exists_only_with_a_relay() -> None:
    def services(**settings: Any) -> Services:
        return Services(
            settings=Settings.model_validate(settings),
            validation=cast(Any, object()),
            store=cast(Any, object()),
        )

    assert services().email_channel is None
    channel = services(mail={"host": "127.0.0.1", "from": "f@coop.test"}).email_channel
    assert isinstance(channel, EmailChannel)
    assert isinstance(channel.mailer, SMTPMailer)
    assert channel.sender == "f@coop.test"
    assert channel.render_pdf is not None


def test_the_timer_purges_then_waits_for_stop(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'gateway.db'}"
    upgrade_database(url)
    store = SQLDocumentStore.from_url(url)
    with store.unit_of_work() as uow:
        uow.idempotency.claim(IdempotencyRecord("erp", "old", "f", 422, {}, NOW - timedelta(days=31)))
        uow.idempotency.claim(IdempotencyRecord("erp", "new", "f", 422, {}, NOW - timedelta(days=29)))
        uow.commit()
    services = Services(
        settings=Settings.model_validate({"retention": {"interval_seconds": 60}}),
        validation=cast(Any, object()),
        store=store,
        clock=_Clock(),
    )

    async def once() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(run_retention(services, stop))
        await asyncio.sleep(0.5)  # the first pass runs at once
        stop.set()
        await asyncio.wait_for(task, timeout=5)

    asyncio.run(once())
    with store.unit_of_work(read_only=True) as uow:
        assert uow.idempotency.get("erp", "old") is None
        assert uow.idempotency.get("erp", "new") is not None
    store.close()
