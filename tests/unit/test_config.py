"""Settings refuse unsafe combinations when they are read (start-up), with a message naming the setting."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gateway.config import LEASE_MARGIN_SECONDS, Settings


def test_a_lease_shorter_than_a_send_plus_margin_is_refused_at_start_up() -> None:
    worker = {"lease_seconds": 100, "connect_timeout_seconds": 10, "send_timeout_seconds": 60}
    with pytest.raises(ValidationError, match=r"lease_seconds \(100\) must exceed connect \+ send timeout"):
        Settings.model_validate({"worker": worker})
    enough = 10 + 60 + LEASE_MARGIN_SECONDS
    assert (
        Settings.model_validate({"worker": {**worker, "lease_seconds": enough}}).worker.lease_seconds
        == enough
    )


def test_the_default_worker_settings_are_consistent() -> None:
    worker = Settings().worker
    assert worker.lease_seconds >= worker.connect_timeout_seconds + worker.send_timeout_seconds + 60
