"""Contract (PostgreSQL): a listening worker that stops without closing - its event loop stalls, the network
to the server is cut - loses the listener role within the session timeout (the server ends its idle session,
which releases the lock), a standby takes the role, and the old listener gives it up and contends again once
it runs; a listener that runs keeps the role (its pings), and a standby's session is never ended for idling.

The session timeout here is short (``SESSION``); the stalls and cuts last several times longer, so "before
the stall ends" is the bound checked, never a timing figure."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Coroutine, Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text
from test_job_signal_workers import ENDS_WITHIN, POLL, TAKEOVER, enqueue, until

from gateway.store import SQLDocumentStore
from gateway.store import job_signal as module
from gateway.store.job_signal import LISTENER_LOCK, PostgresJobSignal

SESSION = 0.8  # the listener pings every 0.2 s
STALL = 5 * SESSION
QUIET_FOR = 0.3


@pytest.fixture
def backend() -> str:
    return "postgresql"


@pytest.fixture(autouse=True)
def quick_relisten(monkeypatch: pytest.MonkeyPatch) -> None:
    """A signal whose connection failed connects again after 0.05 s (not 5 s): the old listener contends
    again within the test."""
    monkeypatch.setattr(module, "RELISTEN_DELAY", 0.05)


def signal_on(engine: Engine, *, takeover: float = TAKEOVER) -> PostgresJobSignal:
    return PostgresJobSignal(engine, takeover_interval=takeover, session_timeout=SESSION)


async def woken(signal: PostgresJobSignal, within: float) -> bool:
    wait = asyncio.create_task(signal.wait())
    done, _ = await asyncio.wait({wait}, timeout=within)
    wait.cancel()
    return bool(done)


async def close(*signals: PostgresJobSignal) -> None:
    """Close the signals of this loop and let their tasks end (a listener releases the lock)."""
    for signal in signals:
        signal.close()
    others = asyncio.all_tasks() - {asyncio.current_task()}
    if others:
        await asyncio.wait(others, timeout=ENDS_WITHIN)


def lock_holder(engine: Engine) -> int | None:
    """The backend pid of the session holding the listener lock."""
    with engine.connect() as connection:
        return connection.execute(
            text(
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
                " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                " AND ((classid::bigint << 32) | objid::bigint) = :key"
            ),
            {"key": LISTENER_LOCK},
        ).scalar()


def standby_sessions(engine: Engine) -> set[int]:
    """The backend pids of the sessions whose last statement was a takeover attempt. The server shows a
    statement once its backend starts it: a read right after the client sent one can still see the one
    before (``until`` waits for it)."""
    with engine.connect() as connection:
        pids = connection.execute(
            text(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query LIKE :attempt"
            ),
            {"attempt": "SELECT %pg_try_advisory_lock(%"},
        )
        return set(pids.scalars())


def record_sessions(signal: PostgresJobSignal, *, late: float = 0.0) -> list[int]:
    """The backend pid of the connection of each takeover attempt of ``signal``, as it makes them. With
    ``late``, each attempt after its first starts that many seconds late, as on a server too loaded to start
    it at once: ``signal`` stands by meanwhile, its session's last statement its ``LISTEN``."""
    pids: list[int] = []
    take = signal._take_lock

    async def recorded(connection: Any) -> bool:
        pids.append(connection.info.backend_pid)
        if late and len(pids) > 1:
            await asyncio.sleep(late)
        return await take(connection)

    signal._take_lock = recorded  # type: ignore[method-assign]
    return pids


class LoopThread:
    """An event loop in a thread of its own, as another worker process's: it can be stalled (a long
    synchronous step, a process stopped) while the test's loop goes on."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def start(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    async def run(self, coroutine: Coroutine[Any, Any, Any]) -> Any:
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coroutine, self.loop))

    def stall(self, seconds: float) -> threading.Event:
        """Block the loop for ``seconds``; the event is set when it runs again."""
        resumed = threading.Event()

        def block() -> None:
            time.sleep(seconds)
            resumed.set()

        self.loop.call_soon_threadsafe(block)
        return resumed

    def stop(self) -> None:
        """End the loop as ``asyncio.run`` ends one: the tasks still pending are cancelled and awaited first.
        Stopped with a task pending (a signal's task that ``close()`` did not see end within its bound, on a
        loaded host), the task was abandoned with its connection open: a session left in the database and,
        whenever the garbage collector got to it, a ``ResourceWarning`` failing whichever test ran then."""
        if self._thread.is_alive():
            ended = asyncio.run_coroutine_threadsafe(_cancel_pending(), self.loop)
            ended.result(timeout=3 * ENDS_WITHIN)  # a task that ignores its cancellation fails the test here
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(ENDS_WITHIN)
        self.loop.close()


async def _cancel_pending() -> None:
    """Cancel the loop's other tasks and wait until they ended."""
    pending = asyncio.all_tasks() - {asyncio.current_task()}
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    await asyncio.get_running_loop().shutdown_asyncgens()


def test_a_stopped_loop_thread_ends_the_tasks_it_still_runs() -> None:
    # The other worker's tasks end as a process's would (their connections closed), never abandoned.
    thread = LoopThread()
    ended = threading.Event()

    async def holds_a_connection() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            await asyncio.sleep(0)  # a close that awaits, as psycopg's does
            ended.set()

    thread.start(holds_a_connection())
    time.sleep(0.05)
    thread.stop()
    assert ended.is_set()


@pytest.fixture
def other_worker() -> Iterator[LoopThread]:
    thread = LoopThread()
    yield thread
    thread.stop()


def test_a_listener_whose_loop_stalls_loses_the_role_to_a_standby(
    store: SQLDocumentStore, other_worker: LoopThread
) -> None:
    engine = store.engine
    stalled = signal_on(engine)  # runs in the other worker's loop
    standby = signal_on(engine)

    async def main() -> dict[str, Any]:
        other_worker.start(woken(stalled, ENDS_WITHIN))
        assert await until(lambda: stalled.listening)
        listener_pid = await asyncio.to_thread(lock_holder, engine)
        await woken(standby, ENDS_WITHIN)  # its first wake-up, after its LISTEN
        assert standby.standing_by
        resumed = other_worker.stall(STALL)
        await until(lambda: standby.listening or resumed.is_set(), within=STALL + ENDS_WITHIN)
        seen = {"took_over_while_stalled": standby.listening and not resumed.is_set()}
        seen["old_pid_gone"] = await asyncio.to_thread(lock_holder, engine) != listener_pid
        await woken(standby, ENDS_WITHIN)  # a new listener looks at once
        await asyncio.to_thread(enqueue, store)
        seen["woken_by_the_next_job"] = await woken(standby, ENDS_WITHIN)
        # The stalled one runs again: its session was ended; it gives the role up and stands by.
        assert await asyncio.to_thread(resumed.wait, STALL + ENDS_WITHIN)
        seen["old_stands_by"] = await until(lambda: stalled.standing_by and not stalled.listening)
        seen["listeners"] = stalled.listening + standby.listening
        await other_worker.run(woken(stalled, ENDS_WITHIN))  # a new standby's first wake-up
        await asyncio.to_thread(enqueue, store)
        seen["old_woken_by_a_job"] = await other_worker.run(woken(stalled, QUIET_FOR))
        await other_worker.run(close(stalled))
        await close(standby)
        return seen

    seen = asyncio.run(main())
    assert seen == {
        "took_over_while_stalled": True,
        "old_pid_gone": True,
        "woken_by_the_next_job": True,
        "old_stands_by": True,
        "listeners": 1,
        "old_woken_by_a_job": False,
    }


@pytest.mark.parametrize("late", [0.0, 2.0], ids=["attempt_at_once", "attempt_started_late"])
def test_a_running_listener_keeps_the_role_and_a_quiet_standby_keeps_its_session(
    store: SQLDocumentStore, late: float
) -> None:
    # Idle for several session timeouts: the listener's pings keep its session (and the lock); the standby
    # (takeover attempts 60 s apart, so idle all along) set no timeout and keeps its session too.
    # ``late``: the standby's takeover attempt after its LISTEN starts that many seconds after it stands by,
    # as a loaded server may start it (before: the sessions were read at once, none seen standing by - CI).
    engine = store.engine
    listener = signal_on(engine)
    standby = signal_on(engine, takeover=POLL)
    standby_connections = record_sessions(standby, late=late)

    async def main() -> dict[str, Any]:
        await woken(listener, ENDS_WITHIN)
        assert await until(lambda: listener.listening)
        await woken(standby, ENDS_WITHIN)
        assert standby.standing_by
        listener_pid = await asyncio.to_thread(lock_holder, engine)
        # It stands by from its LISTEN on, then sends a takeover attempt: the server may not have started
        # that one yet (a loaded host), its session's last statement is still the LISTEN.
        standby_pid = standby_connections[-1]
        assert await until(lambda: standby_pid in standby_sessions(engine))
        roles = set()
        for _ in range(int(3 * SESSION / 0.01)):
            roles.add((listener.listening, standby.standing_by))
            await asyncio.sleep(0.01)
        seen = {
            "roles": roles,
            "same_listener_session": await asyncio.to_thread(lock_holder, engine) == listener_pid,
            "standby_sessions": len(set(standby_connections)),
            "same_standby_session": await asyncio.to_thread(standby_sessions, engine) == {standby_pid},
        }
        await asyncio.to_thread(enqueue, store)
        seen["listener_woken"] = await woken(listener, ENDS_WITHIN)
        await close(listener, standby)
        return seen

    seen = asyncio.run(main())
    assert seen == {
        "roles": {(True, True)},
        "same_listener_session": True,
        "standby_sessions": 1,
        "same_standby_session": True,
        "listener_woken": True,
    }


class Partition:
    """A TCP relay to PostgreSQL that can cut the path without closing it, as a network partition does:
    neither side sees a FIN or a reset, what is sent stays unanswered; new connections are refused."""

    def __init__(self, host: str, port: int) -> None:
        self._upstream = (host, port)
        self._open = asyncio.Event()
        self._open.set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: list[asyncio.StreamWriter] = []
        self._server: asyncio.Server | None = None

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    def cut(self) -> None:
        self._open.clear()

    def heal(self) -> None:
        self._open.set()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self._open.is_set():
            writer.close()
            return
        up_reader, up_writer = await asyncio.open_connection(*self._upstream)
        self._writers += [writer, up_writer]
        for source, target in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._relay(source, target))
            self._tasks.add(task)

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(65536):
                await self._open.wait()  # cut: held back, never delivered until healed
                writer.write(data)
                await writer.drain()
        writer.close()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in self._tasks:
            task.cancel()
        for writer in self._writers:
            writer.close()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def test_a_listener_cut_off_from_the_server_gives_the_role_up_on_both_sides(store: SQLDocumentStore) -> None:
    # The network between the listener and the server is cut (no FIN, no reset): the server ends the idle
    # session, which releases the lock, and a standby takes the role; the cut-off listener's ping goes
    # unanswered and it stops believing it listens (before: it listened on, and the lock stayed until the
    # server's TCP noticed, hours later without keepalives).
    url = store.engine.url

    async def main() -> dict[str, Any]:
        partition = Partition(url.host or "127.0.0.1", url.port or 5432)
        relayed = create_engine(url.set(host="127.0.0.1", port=await partition.start()))
        cut_off = signal_on(relayed)
        standby = signal_on(store.engine)
        try:
            await woken(cut_off, ENDS_WITHIN)
            assert await until(lambda: cut_off.listening)
            await woken(standby, ENDS_WITHIN)
            partition.cut()
            seen = {"standby_listens": await until(lambda: standby.listening)}
            await woken(standby, ENDS_WITHIN)  # a new listener looks at once
            await asyncio.to_thread(enqueue, store)
            seen["woken_by_the_next_job"] = await woken(standby, ENDS_WITHIN)
            seen["cut_off_gave_up"] = await until(lambda: not cut_off.listening, within=2 * ENDS_WITHIN)
            partition.heal()
            seen["cut_off_stands_by"] = await until(lambda: cut_off.standing_by)
            return seen
        finally:
            await close(cut_off, standby)
            await partition.close()
            relayed.dispose()

    seen = asyncio.run(main())
    assert seen == {
        "standby_listens": True,
        "woken_by_the_next_job": True,
        "cut_off_gave_up": True,
        "cut_off_stands_by": True,
    }


def test_a_job_notified_during_a_ping_still_wakes_the_listener(
    store: SQLDocumentStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The ping runs between two notifies() on the listening connection: a notification that the server
    # sends while the ping's answer is read must wake the worker at the next notifies(), not be lost.
    listener = signal_on(store.engine)
    during_ping: list[str] = []
    ping = PostgresJobSignal._ping

    async def ping_after_a_job(self: PostgresJobSignal, connection: Any) -> None:
        if during_ping == ["armed"]:
            during_ping[0] = await asyncio.to_thread(enqueue, store)  # its NOTIFY is on the way
            await asyncio.sleep(0.05)
        await ping(self, connection)

    monkeypatch.setattr(PostgresJobSignal, "_ping", ping_after_a_job)

    async def main() -> bool:
        await woken(listener, ENDS_WITHIN)
        assert await until(lambda: listener.listening)
        during_ping.append("armed")
        woke = await woken(listener, ENDS_WITHIN)
        await close(listener)
        return woke and during_ping != ["armed"]

    assert asyncio.run(main())


def test_a_worker_stopped_right_after_taking_the_lock_loses_it_too(
    store: SQLDocumentStore, other_worker: LoopThread
) -> None:
    # The session has its timeout from the statement that takes the lock: a worker stopped (or cut off)
    # right after its takeover, before any further statement reaches the server, loses the role like any
    # stalled listener (before: that session held the lock without a timeout, for as long as the stop).
    engine = store.engine
    stalled = signal_on(engine)  # runs in the other worker's loop
    standby = signal_on(engine)
    resumed = threading.Event()
    take = stalled._take_lock

    async def take_then_stop(connection: Any) -> bool:
        taken = await take(connection)
        if taken and not resumed.is_set():
            time.sleep(STALL)  # its loop stops, as the process would
            resumed.set()
        return bool(taken)

    stalled._take_lock = take_then_stop  # type: ignore[method-assign]

    async def main() -> dict[str, Any]:
        other_worker.start(woken(stalled, ENDS_WITHIN))
        assert await until(lambda: lock_holder(engine) is not None)
        await woken(standby, ENDS_WITHIN)  # its first wake-up, after its LISTEN
        await until(lambda: standby.listening or resumed.is_set(), within=STALL + ENDS_WITHIN)
        seen = {"took_over_while_stopped": standby.listening and not resumed.is_set()}
        assert await asyncio.to_thread(resumed.wait, STALL + ENDS_WITHIN)
        seen["old_stands_by"] = await until(lambda: stalled.standing_by and not stalled.listening)
        seen["listeners"] = stalled.listening + standby.listening
        await other_worker.run(close(stalled))
        await close(standby)
        return seen

    seen = asyncio.run(main())
    assert seen == {"took_over_while_stopped": True, "old_stands_by": True, "listeners": 1}
