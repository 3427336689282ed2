"""``gateway bench large``: the receiver's peak is read only once its validation is recorded, and --set
takes only gateway settings."""

from __future__ import annotations

import time
from typing import Any, cast

import httpx
import pytest

from gateway.bench import large
from gateway.bench.loopback import parse_override


class _Inbound:
    """Answers ``GET /v1/inbound`` with the next listing each time."""

    def __init__(self, *listings: dict[str, str]) -> None:
        self.listings = list(listings)
        self.calls = 0

    def get(self, _path: str, **_: Any) -> Any:
        listing = self.listings[min(self.calls, len(self.listings) - 1)]
        self.calls += 1
        items = [{"id": k, "status": v} for k, v in listing.items()]
        return type("R", (), {"json": lambda _self: {"items": items}})()


def _client(fake: _Inbound) -> httpx.Client:
    return cast(httpx.Client, fake)


def test_waits_until_the_new_document_is_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(time, "sleep", lambda _s: None)
    client = _Inbound({"1": "valid"}, {"1": "valid", "2": "received"}, {"1": "valid", "2": "invalid"})
    new = large._received(_client(client), {"1": "valid"}, deadline=time.monotonic() + 60)
    assert new == {"2": "invalid"}
    assert client.calls == 3


def test_gives_up_at_the_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(time, "sleep", lambda _s: None)
    client = _Inbound({"1": "valid", "2": "received"})
    new = large._received(_client(client), {"1": "valid"}, deadline=time.monotonic() - 1)
    assert new == {"2": "received"}


def test_set_takes_gateway_settings_only() -> None:
    assert parse_override("GATEWAY_SERVER__MALLOC_MMAP_THRESHOLD_BYTES=0", "large") == (
        "GATEWAY_SERVER__MALLOC_MMAP_THRESHOLD_BYTES",
        "0",
    )
    with pytest.raises(SystemExit, match="GATEWAY_NAME=VALUE"):
        parse_override("MALLOC_ARENA_MAX=1", "large")
    with pytest.raises(SystemExit, match="bench e2e: --set takes GATEWAY_NAME=VALUE"):
        parse_override("GATEWAY_LOG_LEVEL", "e2e")


def test_set_refuses_a_misspelt_setting_before_any_gateway_starts() -> None:
    with pytest.raises(SystemExit) as refused:
        parse_override("GATEWAY_SERVER__MALLOC_ARENA=1", "e2e")
    assert str(refused.value) == (
        "gateway bench e2e: --set unknown setting GATEWAY_SERVER__MALLOC_ARENA"
        " (did you mean GATEWAY_SERVER__MALLOC_ARENAS?)"
    )
