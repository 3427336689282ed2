"""``bench e2e``'s context-switch counts: per thread from ``/proc``, and their growth between two looks."""

from __future__ import annotations

import os
import threading

from gateway.bench.loopback import context_switches, switches_between


def test_the_counts_of_this_process_list_each_live_thread_and_grow_when_one_sleeps() -> None:
    before = context_switches(os.getpid())
    assert threading.get_native_id() in before
    done = threading.Event()
    thread = threading.Thread(target=done.wait, args=(5,))
    thread.start()
    try:
        for _ in range(3):
            threading.Event().wait(0.01)  # this thread sleeps: voluntary switches
        after = context_switches(os.getpid())
        assert thread.native_id in after  # started in between: all of its switches count
    finally:
        done.set()
        thread.join()
    voluntary, preempted = switches_between(before, after)
    assert voluntary >= 3
    assert preempted >= 0


def test_growth_counts_new_threads_whole_and_misses_exited_ones() -> None:
    before = {1: (10, 2), 2: (5, 5)}
    after = {1: (14, 3), 3: (7, 1)}  # thread 2 exited, thread 3 started
    assert switches_between(before, after) == (4 + 7, 1 + 1)


def test_a_process_that_is_gone_has_no_counts() -> None:
    assert context_switches(2**22 + 12345) == {}
