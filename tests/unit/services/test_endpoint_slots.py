"""Waiting in the worker for a slot of a busy endpoint: a fast endpoint's surplus jobs wait (first come,
first served) instead of going back to the queue; a slow or stalled endpoint's are handed back, so the
worker's slots still serve the other endpoints."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any, TypeVar

from delivery_support import SettableClock

from gateway.services.circuit_breaker import BreakerPolicy
from gateway.services.endpoint_gate import EndpointGate, GateRefusal, SendPermit
from gateway.services.endpoint_slots import EndpointSlots

T = TypeVar("T")

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


# The races below are driven on an event loop whose clock the test sets (no sleeps): moving it past a
# deadline makes every timer due by then run in the next loop iteration, in the order of their deadlines.


class _FrozenTimeLoop(asyncio.SelectorEventLoop):
    """An event loop whose ``time()`` moves only when the test moves it."""

    def __init__(self) -> None:
        super().__init__()
        self.now = 1000.0

    def time(self) -> float:
        return self.now


def run_frozen(main: Callable[[_FrozenTimeLoop], Coroutine[Any, Any, T]]) -> T:
    loop = _FrozenTimeLoop()
    try:
        return loop.run_until_complete(main(loop))
    finally:
        loop.close()


async def turns(n: int = 5) -> None:
    """Let the loop run ``n`` iterations (the other tasks' steps and any timers due)."""
    for _ in range(n):
        await asyncio.sleep(0)


async def is_immediate(s: EndpointSlots, endpoint: str) -> SendPermit:
    """``endpoint``'s slot, asserting that it came without waiting (the clock does not move)."""
    newcomer = asyncio.ensure_future(s.acquire(endpoint))
    await turns()
    assert newcomer.done(), "an idle endpoint made a new job wait: a slot is held for nobody"
    permit = newcomer.result()
    assert isinstance(permit, SendPermit), permit
    return permit


def test_a_slot_freed_in_the_same_loop_turn_as_the_waits_bound_runs_out_is_not_lost() -> None:
    """The send ends just before the waiter's bound runs out, and both land in one loop iteration (a busy
    loop). With ``asyncio.wait_for`` on Python 3.12+ the waiter saw a timeout although the slot had been
    handed to it: the hand-over was never taken, and every later job for the idle endpoint queued."""
    clock = SettableClock()
    s = slots(clock, per_endpoint=1, max_wait=2.0)
    measured(s, clock, FAST, 0.05)

    async def main(loop: _FrozenTimeLoop) -> None:
        held = await s.acquire(FAST)
        assert isinstance(held, SendPermit)
        waiter = asyncio.ensure_future(s.acquire(FAST))
        await turns()
        assert s.waiting(FAST) == 1
        loop.call_at(loop.now + 2.0 - 0.001, lambda: s.release(held, ok=True))  # just before the bound
        loop.now += 5.0  # both due now: the release runs first, then the bound's timer
        await turns()
        assert waiter.done()
        permit = waiter.result()
        assert isinstance(permit, SendPermit), permit  # handed the slot (or the gate's: it is free)
        assert s.gate.in_flight(FAST) == 1
        s.release(permit, ok=True)
        assert s.waiting(FAST) == 0
        s.release(await is_immediate(s, FAST), ok=True)
        assert s.gate.in_flight(FAST) == 0

    run_frozen(main)


def test_a_waiter_cancelled_after_a_slot_was_handed_to_it_passes_the_slot_on_and_stays_cancelled() -> None:
    """The slot is handed to the first waiter and its task is cancelled (the worker stops) before it runs:
    the cancellation wins (with ``asyncio.wait_for`` on 3.11 it was swallowed and the job sent anyway) and
    the slot goes to the next waiter, not to nobody."""
    clock = SettableClock()
    s = slots(clock, per_endpoint=1, max_wait=2.0)
    measured(s, clock, FAST, 0.05)

    async def main(loop: _FrozenTimeLoop) -> None:
        held = await s.acquire(FAST)
        assert isinstance(held, SendPermit)
        first = asyncio.ensure_future(s.acquire(FAST))
        await turns()
        second = asyncio.ensure_future(s.acquire(FAST))
        await turns()
        assert s.waiting(FAST) == 2
        s.release(held, ok=True)  # handed to the first waiter, which has not run yet...
        first.cancel()  # ...and is cancelled before it does
        await turns()
        assert first.cancelled()
        assert second.done()
        permit = second.result()
        assert isinstance(permit, SendPermit), permit
        assert s.gate.in_flight(FAST) == 1
        s.release(permit, ok=True)
        assert s.waiting(FAST) == 0
        s.release(await is_immediate(s, FAST), ok=True)

    run_frozen(main)


def test_a_waiter_whose_bound_runs_out_goes_back_without_a_slot_and_holds_none() -> None:
    """The bound runs out with no send ended: the job is refused, and no slot is held for it afterwards."""
    clock = SettableClock()
    s = slots(clock, per_endpoint=1, max_wait=2.0)
    measured(s, clock, FAST, 0.05)

    async def main(loop: _FrozenTimeLoop) -> None:
        held = await s.acquire(FAST)
        assert isinstance(held, SendPermit)
        waiter = asyncio.ensure_future(s.acquire(FAST))
        await turns()
        loop.now += 2.0 - 0.001
        await turns()
        assert not waiter.done()  # not before its bound
        loop.now += 0.002
        await turns()
        assert isinstance(waiter.result(), GateRefusal)
        assert s.waiting(FAST) == 0
        s.release(held, ok=True)  # nobody waits: the slot is free for the next job at once
        s.release(await is_immediate(s, FAST), ok=True)

    run_frozen(main)


def test_the_watcher_is_told_when_jobs_start_waiting_and_when_none_waits_any_more() -> None:
    """The worker is told (``watch``) when the first job starts waiting and when the last stops - handed a
    slot, its bound run out or cancelled - not on every job: it tells its signal again then (a worker full of
    jobs waiting for an endpoint is not busy for it)."""
    clock = SettableClock()
    s = slots(clock, per_endpoint=1, max_wait=2.0)
    measured(s, clock, FAST, 0.05)
    told: list[int] = []
    s.watch(lambda: told.append(s.waiting_in_all()))

    async def main(loop: _FrozenTimeLoop) -> None:
        held = await s.acquire(FAST)
        assert isinstance(held, SendPermit)
        assert told == []
        first = asyncio.ensure_future(s.acquire(FAST))
        second = asyncio.ensure_future(s.acquire(FAST))
        await turns()
        assert told == [1]  # the first waiter; not the second
        s.release(held, ok=True)  # handed to the first
        await turns()
        permit = first.result()
        assert isinstance(permit, SendPermit)
        assert told == [1]  # the second still waits
        second.cancel()
        await turns()
        assert told == [1, 0]
        third = asyncio.ensure_future(s.acquire(FAST))
        await turns()
        assert told == [1, 0, 1]
        loop.now += 2.0  # its bound runs out
        await turns()
        assert isinstance(third.result(), GateRefusal)
        assert told == [1, 0, 1, 0]
        waiter = asyncio.ensure_future(s.acquire(FAST))
        await turns()
        s.release(permit, ok=True)  # handed over: none waits from then on
        await turns()
        assert told == [1, 0, 1, 0, 1, 0]
        s.release(waiter.result(), ok=True)  # type: ignore[arg-type]
        s.watch(None)

    run_frozen(main)


def test_an_endpoint_not_answered_yet_has_jobs_wait_only_within_its_assumed_send_time() -> None:
    # A receiver met for the first time is assumed fast (1 s per send) until its oldest send outlives that:
    # a silent one must not keep jobs waiting in the worker for seconds (each holding a slot of its
    # pipeline; issue 12 part 3), and a waiter gives up when that time runs out.
    clock = SettableClock()
    s = slots(clock)  # assumed 1 s per send: 0.5 s expected for one more job with 2 slots, within max_wait

    async def main() -> tuple[list[SendPermit | GateRefusal], float, int]:
        held = [await s.acquire(SLOW), await s.acquire(SLOW)]
        assert all(isinstance(p, SendPermit) for p in held)
        clock.advance(seconds=0.9)
        assert s.would_wait(SLOW)  # still within the assumed second
        started = time.monotonic()
        within = await asyncio.wait_for(s.acquire(SLOW), timeout=1.5)  # waits 0.1 s, not max_wait (2 s)
        waited = time.monotonic() - started
        clock.advance(seconds=0.1)  # the oldest send has outlived the assumed second, unanswered
        # Handed back at once: a wait would last max_wait (2 s); the bound leaves room for a starved machine.
        past = await asyncio.wait_for(s.acquire(SLOW), timeout=1.0)
        return [within, past], waited, s.waiting(SLOW)

    refusals, waited, waiting = asyncio.run(main())
    assert all(isinstance(r, GateRefusal) and not r.circuit_open for r in refusals), refusals
    assert waited > 0.05, waited  # it did wait (the 1.5 s timeout above bounds it well below max_wait)
    assert waiting == 0
    assert not s.would_wait(SLOW)
