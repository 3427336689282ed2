"""``sweep_pending_once`` claims the documents it takes when workers finish received documents
(``GATEWAY_AS4__AFTER_RECEIPT=worker``), and sweeps as before in serve mode."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from gateway.api.pending_sweep import sweep_pending_once
from gateway.services.receive_recovery import CLAIM_FOR


class _Receiver:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def sweep_pending(self, **kwargs: Any) -> int:
        self.calls.append(kwargs)
        return 0


@pytest.mark.parametrize(("mode", "claim_for"), [("worker", CLAIM_FOR), ("serve", None)])
def test_the_sweep_claims_only_beside_workers(mode: str, claim_for: timedelta | None) -> None:
    receiver = _Receiver()
    as4 = SimpleNamespace(after_receipt=mode, pending_sweep_age_seconds=300.0)
    services = SimpleNamespace(receiver=receiver, settings=SimpleNamespace(as4=as4))
    assert sweep_pending_once(services) == 0  # type: ignore[arg-type]
    assert receiver.calls == [{"older_than": timedelta(seconds=300), "claim_for": claim_for}]
