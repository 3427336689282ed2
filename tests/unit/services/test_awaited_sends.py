"""The sends waiting for their answer: which have waited long, and when the next one will have."""

from __future__ import annotations

from delivery_support import SettableClock

from gateway.services.awaited_sends import AwaitedSends


def test_sends_count_as_long_once_they_waited_longer_than_asked() -> None:
    clock = SettableClock()
    sends = AwaitedSends(clock)
    assert sends.waited_longer(1.0) == (0, None)
    first = sends.begin()
    clock.advance(seconds=0.75)
    second = sends.begin()
    assert sends.waited_longer(1.0) == (0, 0.25)  # the first crosses first
    clock.advance(seconds=0.5)
    assert sends.waited_longer(1.0) == (1, 0.5)
    clock.advance(seconds=1.0)
    assert sends.waited_longer(1.0) == (2, None)
    sends.end(first)
    sends.end(first)  # idempotent
    assert (len(sends), sends.waited_longer(1.0)) == (1, (1, None))
    sends.end(second)
    assert (len(sends), sends.waited_longer(1.0)) == (0, (0, None))


def test_a_send_exactly_at_the_limit_has_not_waited_longer() -> None:
    clock = SettableClock()
    sends = AwaitedSends(clock)
    sends.begin()
    clock.advance(seconds=1.0)
    assert sends.waited_longer(1.0) == (0, 0.0)
