"""The e-mail fallback's PDF renderer in a worker prints at most ``render.max_concurrent_pdfs`` at once: a
worker composes up to ``worker.max_in_flight`` e-mails in threads, and each large print takes tens of
seconds and hundreds of MiB."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, cast

from gateway.bootstrap import Services
from gateway.bootstrap.adapters import LimitedPrinter
from gateway.config import Settings


class _SlowRender:
    def __init__(self) -> None:
        self.running = 0
        self.most = 0
        self.lock = threading.Lock()

    def __call__(self, ubl: bytes, language: str) -> bytes:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        time.sleep(0.05)
        with self.lock:
            self.running -= 1
        return b"%PDF " + ubl + language.encode()


def test_at_most_capacity_prints_run_at_once_and_each_is_printed() -> None:
    render = _SlowRender()
    printer = LimitedPrinter(render, 2)
    with ThreadPoolExecutor(8) as pool:
        pdfs = list(pool.map(lambda n: printer(str(n).encode(), "nl"), range(16)))
    assert render.most == 2
    assert pdfs == [b"%PDF " + str(n).encode() + b"nl" for n in range(16)]


def test_the_email_channel_prints_under_the_setting() -> None:
    services = Services(
        settings=Settings.model_validate(
            {"mail": {"host": "127.0.0.1", "from": "f@coop.test"}, "render": {"max_concurrent_pdfs": 1}}
        ),
        validation=cast(Any, object()),
        store=cast(Any, object()),
    )
    channel = services.email_channel
    assert channel is not None
    assert isinstance(channel.render_pdf, LimitedPrinter)
    assert channel.render_pdf.capacity == 1
