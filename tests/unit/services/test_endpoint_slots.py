"""Waiting in the worker for a slot of a busy endpoint: a fast endpoint's surplus jobs wait (first come,
first served) instead of going back to the queue; a slow or stalled endpoint's are handed back, so the
worker's slots still serve the other endpoints."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from delivery_support import SettableClock

from gateway.services.circuit_breaker import BreakerPolicy
from gateway.services.endpoint_gate import EndpointGate, GateRefusal, SendPermit
from gateway.services.endpoint_slots import EndpointSlots

FAST = "https://fast.example/as4"
SLOW = "https://slow.example/as4"


def slots(clock: SettableClock, *, per_endpoint: int = 2, max_wait: float = 2.0) -> EndpointSlots:
    policy = BreakerPolicy(failure_threshold=2, open_for=timedelta(seconds=30))
    gate = EndpointGate(per_endpoint=per_endpoint, breaker=policy, clock=clock, initial_send_seconds=1.0)
    return EndpointSlots(gate, max_wait=max_wait)


def measured(s: EndpointSlots, clock: SettableClock, endpoint: str, seconds: float) -> None:
    """Let the endpoint's average send duration settle at ``seconds``."""
    for _ in range(40):
        permit = s.gate.acquire(endpoint)
        assert isinstance(permit, SendPermit)
        clock.advance(seconds=seconds)
        s.release(permit, ok=True)


def test_a_busy_fast_endpoint_hands_its_freed_slots_to_the_waiting_jobs_in_order() -> None:
    clock = SettableClock()
    s = slots(clock)
    measured(s, clock, FAST, 0.05)

    async def main() -> list[str]:
        held = [await s.acquire(FAST), await s.acquire(FAST)]
        order: list[str] = []

        async def job(name: str) -> None:
            permit = await s.acquire(FAST)
            assert isinstance(permit, SendPermit), permit
            order.append(name)

        waiting = [asyncio.create_task(job(name)) for name in ("first", "second")]
        await asyncio.sleep(0.01)
        assert s.waiting(FAST) == 2
        assert not order
        for permit in held:
            assert isinstance(permit, SendPermit)
            s.release(permit, ok=True)
        await asyncio.wait_for(asyncio.gather(*waiting), timeout=5)
        return order

    assert asyncio.run(main()) == ["first", "second"]


def test_a_slow_endpoints_surplus_job_is_handed_back_at_once() -> None:
    clock = SettableClock()
    s = slots(clock)
    measured(s, clock, SLOW, 10.0)  # 10 s per send: 5 s expected for one more job with 2 slots

    async def main() -> SendPermit | GateRefusal:
        await s.acquire(SLOW)
        await s.acquire(SLOW)
        return await asyncio.wait_for(s.acquire(SLOW), timeout=1)

    refused = asyncio.run(main())
    assert isinstance(refused, GateRefusal)
    assert not refused.circuit_open
    assert s.waiting(SLOW) == 0


def test_jobs_waiting_for_a_stalled_endpoint_go_back_to_the_queue_after_the_bound() -> None:
    clock = SettableClock()
    s = slots(clock, max_wait=0.05)
    measured(s, clock, FAST, 0.01)

    async def main() -> SendPermit | GateRefusal:
        await s.acquire(FAST)
        await s.acquire(FAST)  # neither send ever ends
        return await asyncio.wait_for(s.acquire(FAST), timeout=5)

    assert isinstance(asyncio.run(main()), GateRefusal)
    assert s.waiting(FAST) == 0


def test_the_send_duration_counts_from_the_request_not_from_the_admission() -> None:
    clock = SettableClock()
    s = slots(clock)
    for _ in range(40):
        permit = s.gate.acquire(FAST)
        assert isinstance(permit, SendPermit)
        clock.advance(seconds=3)  # building, signing, storing, waiting for the database lock
        s.gate.sending(permit)
        clock.advance(seconds=0.02)  # the request itself
        s.release(permit, ok=True)
    expected = s.gate.expected_wait(FAST, ahead=0)
    assert expected is not None
    assert expected < 0.05


def test_a_job_arriving_while_a_freed_slot_is_handed_to_a_waiter_queues_behind_it() -> None:
    clock = SettableClock()
    s = slots(clock, per_endpoint=1)
    measured(s, clock, FAST, 0.05)

    async def main() -> list[str]:
        held = await s.acquire(FAST)
        assert isinstance(held, SendPermit)
        order: list[str] = []
        permits: list[SendPermit] = []

        async def job(name: str) -> None:
            permit = await s.acquire(FAST)
            assert isinstance(permit, SendPermit), permit
            order.append(name)
            permits.append(permit)

        waiter = asyncio.create_task(job("waiter"))
        await asyncio.sleep(0.01)
        assert s.waiting(FAST) == 1
        s.release(held, ok=True)  # the slot goes to the waiter, which has not run yet
        newcomer = asyncio.create_task(job("newcomer"))
        await asyncio.sleep(0.01)
        assert order == ["waiter"]
        s.release(permits[0], ok=True)
        await asyncio.wait_for(asyncio.gather(waiter, newcomer), timeout=5)
        return order

    assert asyncio.run(main()) == ["waiter", "newcomer"]
