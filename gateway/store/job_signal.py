"""Wake-up of an idle delivery worker as soon as a job is due, instead of at its next poll.

A worker with free slots used to poll for due jobs every ``GATEWAY_WORKER__POLL_INTERVAL_SECONDS``: a
document posted to an idle worker waited half a poll on average before its lease (issue 12). These
signals end the worker's wait within milliseconds of a job becoming due; the poll stays as the fallback
(a retry whose time comes, a signal that failed):

* **SQLite**: ``PRAGMA data_version`` on a connection of its own changes whenever another connection -
  of any process - commits. It is read every ``interval`` seconds (microseconds each); only after a
  change does one indexed read ask whether an unleased job is due, so the worker's own commits and the
  API's other writes wake nobody for nothing. Reads never take SQLite's write lock. After half a second
  without a change it reads every 25 ms: an idle worker spends ≈ 1 % of a core on it, not 3 %.
* **PostgreSQL**: ``SQLDeliveryQueue.enqueue`` issues a ``NOTIFY`` on ``JOBS_CHANNEL`` in the enqueuing
  transaction, so it is delivered when (and only if) the job is committed. One worker per database listens
  on it: the one whose signal holds the session-level advisory lock ``LISTENER_LOCK`` (the *listener*).
  The others (*standbys*) listen on ``OVERFLOW_CHANNEL`` only, where the listener hands on what it cannot
  take: once its slots are full (``busy(True)`` after a lease that filled them: more may be due) and every
  notification that comes while they stay full. With every worker listening on ``JOBS_CHANNEL``, each job
  woke all of them and all but one leased nothing (issue 12: a second worker on the same two cores made the
  pair slower). A standby tries to take the lock every ``TAKEOVER_INTERVAL`` seconds: a listener that dies
  or stops closes its connection, which releases the lock, and a standby listens in its place within that
  interval (and leases at once: notifications meanwhile went to nobody); a listener that closes releases
  the lock and notifies ``OVERFLOW_CHANNEL`` first, so a standby takes it at once (its worker awaits that,
  ``aclose``, before its event loop ends: the loop's end would cut it short). A standby does not poll
  while it stands by: the listener polls and hands each of its polls on while busy (a job that becomes
  due later, such as a retry, sends no notification), so a standby leases only what the listener cannot
  take (issue 12, *End to end, tenth pass*: its own polls took a backlog the listener was sending at the
  endpoint's limit). A standby whose connection fails polls at the worker's interval again at once.
  A listener that stops without closing (its event loop stalls, its process is stopped, the network between
  it and the server is cut) must not keep the role until the server happens to notice: its session sets
  ``idle_session_timeout`` to ``LISTENER_SESSION_TIMEOUT`` and the listener runs a ``SELECT 1`` every
  quarter of it. A listener that stops pinging has its session ended by the server itself, which releases
  the lock (a standby listens within ``TAKEOVER_INTERVAL`` after that); a ping unanswered within half the
  timeout ends the listener's own connection (a cut connection: the role is given up on both sides).
  A listener that stops reading while notifications pile up leaves the server's backend blocked in its
  send, where the idle timeout is not acted on: the same session also sets ``tcp_user_timeout`` (the server
  drops a connection whose sent data stays unacknowledged that long) and server-side keepalives
  (``listener_settings``). Standbys set no timeout (they hold nothing). The signal's connections use the
  engine's connection parameters (its URL and ``connect_args``: ``connect_timeout``, TLS, ``options``...)
  over TCP keepalives of their own (``TCP_KEEPALIVE``): a dead server is noticed on an idle connection too,
  and one that does not answer a new connection is given up after ``connect_timeout``.

The same signals wake a worker's finishing of received documents (``worker.received``,
``GATEWAY_AS4__AFTER_RECEIPT=worker``): ``received_signal``. On SQLite a second ``SQLiteJobSignal`` whose read
after a change asks whether a received document is up for a claim (``store.inbound_claims``) instead of a
job. On PostgreSQL the receipt's transaction issues a ``NOTIFY`` on ``RECEIVED_CHANNEL``
(``SQLInboundDocumentRepository.add``, for a document stored pending) and every such worker listens on it
(``PostgresChannelSignal``: no listener role; the claim gives each document to one of them, the others find
nothing in one indexed read); the worker's poll stays the fallback, as for jobs.

``wait()`` never raises: a signal that cannot read its connection logs once per outage and waits for the poll;
SQLite opens its connection again after ``RECONNECT_DELAY``, doubled per failure up to
``MAX_RECONNECT_DELAY``, and logs when it works again; PostgreSQL connects again every ``RELISTEN_DELAY``
and logs once per outage too (a connection that fails before it listens or stands by is part of the outage),
then when it listens or stands by again; so does the connection that hands wake-ups on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Protocol

from sqlalchemy import Engine, bindparam, exists, select
from sqlalchemy.dialects import sqlite

from gateway.store.engine import connection_parameters
from gateway.store.inbound_claims import claimable_inbound
from gateway.store.leases import up_for_lease
from gateway.store.tables import delivery_jobs

log = logging.getLogger("gateway.worker")

#: The PostgreSQL notification channel of newly due delivery jobs.
JOBS_CHANNEL: Final = "gateway_delivery_jobs"
#: Seconds between two reads of SQLite's data version while a worker waits, while the database is busy...
DEFAULT_CHECK_INTERVAL: Final = 0.003
#: ...and once it has not changed for ``QUIET_AFTER`` seconds (an idle gateway: ≈ 40 reads per second).
QUIET_CHECK_INTERVAL: Final = 0.025
QUIET_AFTER: Final = 0.5
#: Is an unleased job due? The lease's own condition (``store.leases``, as ``store.queue`` leases), compiled
#: once for SQLite's driver; answered by ix_delivery_jobs_due_at. Its parameters: ``DUE_JOB_PARAMETERS``.
_DUE_JOB: Final = select(exists().where(up_for_lease(delivery_jobs, bindparam("now")))).compile(
    dialect=sqlite.dialect()
)
DUE_JOB_SQL: Final = str(_DUE_JOB)
#: The names of ``DUE_JOB_SQL``'s positional parameters, in order (each is the worker's "now").
DUE_JOB_PARAMETERS: Final = tuple(_DUE_JOB.positiontup or ())
#: The PostgreSQL notification channel of received documents stored awaiting their validation.
RECEIVED_CHANNEL: Final = "gateway_received_documents"
#: Is a received document up for a claim? (``store.inbound_claims``; its parameters: the claims' cut-off).
_CLAIMABLE: Final = select(exists().where(claimable_inbound(bindparam("now")))).compile(
    dialect=sqlite.dialect()
)
#: Seconds before a broken SQLite signal connection is opened again, doubling after each failure up to...
RECONNECT_DELAY: Final = 0.1
#: ...this (the worker's poll covers the outage meanwhile).
MAX_RECONNECT_DELAY: Final = 5.0
#: Seconds to wait before listening again after the PostgreSQL connection failed.
RELISTEN_DELAY: Final = 5.0
#: The PostgreSQL channel on which the listening worker hands on the wake-ups it has no slot for.
OVERFLOW_CHANNEL: Final = "gateway_delivery_jobs_overflow"
#: The session-level advisory lock held by the signal of the one worker that listens on ``JOBS_CHANNEL``.
LISTENER_LOCK: Final = 0x6761746577616A31
#: Seconds between two attempts of a standby to become the listener (the listener died or stopped).
TAKEOVER_INTERVAL: Final = 0.5
#: Seconds a closing listener spends at most releasing the lock and waking the standbys.
LEAVE_TIMEOUT: Final = 1.0
#: Seconds ``aclose`` waits at most for the signal's tasks to end: a listener's ``LEAVE_TIMEOUT``, plus time
#: for psycopg to cancel a statement the close interrupted (a takeover attempt, a ping, a hand-on ``NOTIFY``)
#: on the server and to close the connections.
CLOSE_TIMEOUT: Final = LEAVE_TIMEOUT + 1.0
#: Seconds without a statement after which PostgreSQL ends the listener's session (``idle_session_timeout``,
#: PostgreSQL 14+, set for that session only), which releases ``LISTENER_LOCK``: a listener whose loop stalls
#: or whose connection is cut loses the role within this (+ ``TAKEOVER_INTERVAL`` for a standby to take it),
#: instead of when the server's TCP notices, hours later without keepalives. The listener pings every
#: ``1 / PINGS_PER_SESSION_TIMEOUT`` of it (5 s: one statement of ≈ 0.1 ms), so a loop held up for up to
#: ≈ 15 s (a long synchronous step) keeps the role; a shorter timeout would take it from such a loop too.
LISTENER_SESSION_TIMEOUT: Final = 20.0
PINGS_PER_SESSION_TIMEOUT: Final = 4
#: libpq's TCP keepalives on the signal's connections: a server that vanished (host down, network cut) is
#: noticed after ≈ 20-25 s on an idle connection, or when sent data stays unacknowledged for 20 s, instead of
#: the system's default (2 h idle; ≈ 15 min of retransmissions). Options of the engine's URL take precedence.
TCP_KEEPALIVE: Final = {
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "tcp_user_timeout": 20_000,
}
#: Seconds the signal waits at most for a new connection to be ready when neither the engine's
#: ``connect_args`` nor its URL set ``connect_timeout`` (``make_engine`` sets one: its ``busy_timeout``).
CONNECT_TIMEOUT: Final = 10
#: The listener's session also has the server drop its connection when what the server sends stays
#: unacknowledged for ``LISTENER_SESSION_TIMEOUT`` (``tcp_user_timeout``, PostgreSQL 12+; a client that
#: stopped reading while notifications fill its buffers keeps the backend blocked in its send, where the
#: idle timeout is not acted on), and probe an idle client every quarter of it, dropping it after this
#: many unanswered probes (``tcp_keepalives_*``: a vanished host, also on PostgreSQL 12-13).
LISTENER_KEEPALIVE_COUNT: Final = 3
#: psycopg's connect arguments that are not libpq parameters (the engine's, for its synchronous connections).
_DRIVER_OBJECTS: Final = frozenset(
    {"autocommit", "context", "cursor_factory", "prepare_threshold", "row_factory"}
)


class JobSignal(Protocol):
    """Tells a waiting worker that a delivery job may be due (a spurious wake-up is allowed)."""

    async def wait(self) -> None:
        """Return when a job may be due now; may wait forever (the caller bounds it by its poll)."""

    def busy(self, busy: bool) -> None:
        """The worker has no free slot (True, said after the lease that filled them) or has one again
        (False); a PostgreSQL listener hands the wake-ups it cannot take to the other workers meanwhile."""

    def polled_while_busy(self) -> None:
        """The worker's poll came while its slots were full: a PostgreSQL listener lets a standby look
        (a job that became due later, such as a retry, sends no notification)."""

    def poll_interval(self, interval: float) -> float:
        """Seconds between the worker's polls: ``interval``, or never (``math.inf``) while this worker is a
        PostgreSQL standby (the listener polls, and hands on while it is busy)."""

    def close(self) -> None:
        """Stop the signal, without waiting: its connection is released (on PostgreSQL by its task, which
        ends in the background: a listener first releases the lock and wakes the standbys)."""

    async def aclose(self) -> None:
        """``close``, then wait (bounded) until the signal's tasks ended: a PostgreSQL listener has handed
        the role on and its connections are closed. A loop that ends while they still run cancels them
        again: a statement psycopg was cancelling on the server is abandoned with a warning, and the
        standbys' wake-up may never be sent."""


def job_signal(
    engine: Engine, *, now: Callable[[], datetime] | None = None, interval: float = DEFAULT_CHECK_INTERVAL
) -> JobSignal:
    """The wake-up signal for the database of ``engine`` (``now``: the worker's clock, for SQLite)."""
    if engine.dialect.name == "sqlite":
        return SQLiteJobSignal(engine, now=now, interval=interval)
    return PostgresJobSignal(engine)


def listener_connect_args(engine: Engine) -> tuple[Any, dict[str, Any]]:
    """The connection arguments of a PostgreSQL signal's own asynchronous connection: the engine's own
    parameters (its URL and ``connect_args``: ``connect_timeout``, ``sslmode``, ``application_name``,
    ``options``...), over the signal's keepalive defaults, in autocommit."""
    args, params = connection_parameters(engine)
    defaults = {**TCP_KEEPALIVE, "connect_timeout": CONNECT_TIMEOUT}
    # Not the synchronous driver's Python objects (a cursor or row factory would break an asynchronous
    # connection, or the signal's reads): the libpq parameters only.
    params = {key: value for key, value in params.items() if key not in _DRIVER_OBJECTS}
    return args, {**defaults, **params, "autocommit": True}


async def _wait_closing(closing: list[asyncio.Task[None]]) -> list[asyncio.Task[None]]:
    """Wait up to ``CLOSE_TIMEOUT`` for the closing tasks of this event loop to end; those not done yet."""
    loop = asyncio.get_running_loop()
    ending = [task for task in closing if task.get_loop() is loop and not task.done()]
    if ending:
        await asyncio.wait(ending, timeout=CLOSE_TIMEOUT)
    return [task for task in closing if not task.done()]


def received_signal(
    engine: Engine,
    *,
    claims: timedelta,
    now: Callable[[], datetime] | None = None,
    interval: float = DEFAULT_CHECK_INTERVAL,
) -> JobSignal:
    """The wake-up signal of a worker finishing received documents: a document stored awaiting validation,
    or (SQLite) one whose claim is older than ``claims``."""
    if engine.dialect.name == "sqlite":
        return SQLiteJobSignal(engine, now=now, interval=interval, claims=claims)
    return PostgresChannelSignal(engine, RECEIVED_CHANNEL)


class SQLiteJobSignal:
    """Watches ``PRAGMA data_version``; after a change, one read asks whether an unleased job is due.

    Args:
        engine: the store's engine (its file and dialect; the signal opens a connection of its own).
        now: the worker's clock (default: the system's UTC time).
        interval: seconds between two reads of the data version while waiting.
        max_reconnect_delay: the longest wait before a broken connection is opened again.
        claims: instead of a due job, a received document up for a claim ends the wait
            (``received_signal``): one not claimed, or whose claim is older than ``claims``.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        now: Callable[[], datetime] | None = None,
        interval: float = DEFAULT_CHECK_INTERVAL,
        max_reconnect_delay: float = MAX_RECONNECT_DELAY,
        claims: timedelta | None = None,
    ) -> None:
        if interval <= 0:
            raise ValueError("interval must be positive")
        database = engine.url.database
        if not database:
            raise ValueError("the SQLite engine has no database file")
        self._path = database
        self._now = now or (lambda: datetime.now(UTC))
        self._interval = interval
        self._to_db = delivery_jobs.c.due_at.type.dialect_impl(engine.dialect).bind_processor(engine.dialect)
        self._claims = claims
        if claims is None:
            self._sql, self._names = DUE_JOB_SQL, DUE_JOB_PARAMETERS
            self._fixed: dict[str, Any] = {}
        else:
            self._sql, self._names = str(_CLAIMABLE), tuple(_CLAIMABLE.positiontup or ())
            self._fixed = {k: v for k, v in _CLAIMABLE.construct_params({"now": None}).items() if k != "now"}
        self._connection: sqlite3.Connection | None = None
        self._version: int | None = None
        self._changed_at = time.monotonic()
        self._max_reconnect_delay = max_reconnect_delay
        self._failed = False  # since the last failure, until a read succeeds again
        self._reconnect_delay = 0.0
        self._reconnect_at = 0.0

    async def wait(self) -> None:
        while not self._due_after_change():
            if self._failed:  # wait out the backoff (the worker's poll covers it)
                await asyncio.sleep(max(self._interval, self._reconnect_at - time.monotonic()))
                continue
            quiet = time.monotonic() - self._changed_at > QUIET_AFTER
            await asyncio.sleep(max(self._interval, QUIET_CHECK_INTERVAL) if quiet else self._interval)

    def _due_after_change(self) -> bool:
        """True when the database changed since the last look and an unleased job is due now."""
        if self._failed and time.monotonic() < self._reconnect_at:
            return False
        try:
            connection = self._connect()
            version = connection.execute("PRAGMA data_version").fetchone()[0]
            due = False
            if version != self._version:  # always after a reconnect: the due read runs before "works again"
                self._version = version
                self._changed_at = time.monotonic()
                now: Any = self._now() - (self._claims or timedelta(0))
                if self._to_db is not None:
                    now = self._to_db(now)
                values = {**self._fixed, "now": now}
                due = bool(
                    connection.execute(self._sql, [values[name] for name in self._names]).fetchone()[0]
                )
            if self._failed:
                log.info("the job wake-up signal works again")
                self._failed, self._reconnect_delay = False, 0.0
            return due
        except sqlite3.Error as exc:
            if not self._failed:
                log.warning("the job wake-up signal failed (%s); the worker polls instead", exc)
                self._failed = True
            self._reconnect_delay = min(
                self._max_reconnect_delay, self._reconnect_delay * 2 or RECONNECT_DELAY
            )
            self._reconnect_at = time.monotonic() + self._reconnect_delay
            self.close()
            return False

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            # Autocommit: each read is its own short read transaction (never a stale snapshot).
            self._connection = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
            self._connection.execute("PRAGMA query_only=1")
            self._version = None
        return self._connection

    def busy(self, busy: bool) -> None:
        """Nothing to hand on: SQLite supports one worker."""

    def polled_while_busy(self) -> None:
        """Nothing to hand on."""

    def poll_interval(self, interval: float) -> float:
        return interval

    def close(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(sqlite3.Error):
                self._connection.close()
            self._connection = None

    async def aclose(self) -> None:
        self.close()  # no task: closed at once


async def _release_and_tell(connection: Any) -> None:
    await connection.execute(f"SELECT pg_advisory_unlock({LISTENER_LOCK})")
    await connection.execute(f"NOTIFY {OVERFLOW_CHANNEL}")


def listener_settings(server_version: int, session_timeout: float) -> dict[str, int]:
    """The server settings of the listener's session, as far as the server has them: the idle-session timeout
    (PostgreSQL 14+: a stalled or cut-off listener), the time sent data may stay unacknowledged (12+: a
    client that stopped reading; the server's send blocks, where the idle timeout is not acted on) and the
    server's keepalives (an idle client whose host vanished; seconds, at least 1)."""
    timeout_ms = round(session_timeout * 1000)
    probe = max(1, round(session_timeout / PINGS_PER_SESSION_TIMEOUT))
    settings: dict[str, int] = {}
    if server_version >= 140000:  # PostgreSQL 13 has no idle_session_timeout
        settings["idle_session_timeout"] = timeout_ms
    if server_version >= 120000:
        settings["tcp_user_timeout"] = timeout_ms
    settings |= {
        "tcp_keepalives_idle": probe,
        "tcp_keepalives_interval": probe,
        "tcp_keepalives_count": LISTENER_KEEPALIVE_COUNT,
    }
    return settings


class PostgresJobSignal:
    """``LISTEN``s on a connection of its own (psycopg, asynchronous), in a task that runs from the first
    ``wait`` until ``close``: on ``JOBS_CHANNEL`` while it holds ``LISTENER_LOCK``, else on
    ``OVERFLOW_CHANNEL`` while trying to take the lock every ``takeover_interval`` seconds. A notification
    that comes while nobody waits ends the next wait at once; notifications that come while the wait runs
    are folded into one wake-up. While the worker is busy, the listener hands each notification on to the
    standbys (one ``NOTIFY`` on ``OVERFLOW_CHANNEL``, from a second connection opened on the first need).
    While it listens, it pings between notifications (``LISTENER_SESSION_TIMEOUT``).

    Args:
        engine: the store's engine (its connection parameters).
        takeover_interval: seconds between two attempts of a standby to become the listener.
        session_timeout: seconds without a ping after which the server ends the listener's session.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        takeover_interval: float = TAKEOVER_INTERVAL,
        session_timeout: float = LISTENER_SESSION_TIMEOUT,
    ) -> None:
        if takeover_interval <= 0:
            raise ValueError("takeover_interval must be positive")
        if session_timeout < 0.1:
            raise ValueError("session_timeout must be at least 0.1 s")
        self._engine = engine
        self._takeover_interval = takeover_interval
        self._session_timeout = session_timeout
        self._ping_interval = session_timeout / PINGS_PER_SESSION_TIMEOUT
        self._notified: asyncio.Event | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._closing: list[asyncio.Task[None]] = []  # cancelled by ``close``, awaited by ``aclose``
        self._busy = False
        self._overflow: asyncio.Event | None = None
        #: True while this signal holds ``LISTENER_LOCK`` and listens on ``JOBS_CHANNEL``.
        self.listening = False
        #: True while another session holds the lock and this signal listens on ``OVERFLOW_CHANNEL``.
        self.standing_by = False
        #: Wake-ups handed on to the standbys (for tests and diagnostics).
        self.handed_on = 0
        self._failing = False  # a failure was logged, until the signal listens or stands by again

    async def wait(self) -> None:
        if self._notified is None:
            self._notified = asyncio.Event()
            self._tasks.append(asyncio.create_task(self._listen(self._notified), name="job-signal"))
        await self._notified.wait()
        self._notified.clear()

    def busy(self, busy: bool) -> None:
        was, self._busy = self._busy, busy
        if busy and not was and self.listening:
            self._hand_on()  # the lease that filled the slots may have left due jobs behind

    def polled_while_busy(self) -> None:
        if self._busy and self.listening:
            self._hand_on()

    def poll_interval(self, interval: float) -> float:
        return math.inf if self.standing_by else interval

    async def _listen(self, notified: asyncio.Event) -> None:
        """Listen until cancelled; after a failure (server restart) log it and listen again later."""
        import psycopg  # the PostgreSQL driver; imported here so that SQLite deployments never need it

        args, params = listener_connect_args(self._engine)
        while True:
            try:
                # Bounded by ``connect_timeout`` (psycopg's own timer: the loop runs on meanwhile).
                connection = await psycopg.AsyncConnection.connect(*args, **params)
                async with connection:  # closing it releases the lock: a standby takes over
                    await self._serve(connection, notified)
            except Exception as exc:  # psycopg.Error, OSError, a timeout...: ending here ends the signal
                # Also a listener's session ended by the server (a loop that stalled past the session
                # timeout): the role is gone with it; the next connection contends for it again. Once per
                # outage: a connection that fails before it listens (or stands by) is part of it.
                if not self._failing:
                    log.warning("the job wake-up signal failed (%r); the worker polls meanwhile", exc)
                    self._failing = True
            finally:
                if self.standing_by:  # its worker's wait had no poll: it polls at the worker's interval now
                    notified.set()
                self.listening = self.standing_by = False
            await asyncio.sleep(RELISTEN_DELAY)

    def _works(self) -> None:
        """The signal listens or stands by: an outage it logged is over."""
        if self._failing:
            log.info("the job wake-up signal connects again")
            self._failing = False

    async def _serve(self, connection: Any, notified: asyncio.Event) -> None:
        """Stand by (overflow wake-ups, a takeover attempt every interval) until the lock is taken, then
        listen to every job's notification."""
        if not await self._take_lock(connection):
            await connection.execute(f"LISTEN {OVERFLOW_CHANNEL}")
            self.standing_by = True
            self._works()
            notified.set()  # jobs may have come while this worker did not listen
            while not await self._take_lock(connection):
                # One notification ends the wait: a listener that leaves says so here (``_leave``).
                async for _ in connection.notifies(timeout=self._takeover_interval, stop_after=1):
                    notified.set()
            # Still standing by until it listens: its worker's wait has no poll, and a connection that
            # fails before the LISTEN must wake it too (``_listen``), or nobody would look until it
            # connected again (the lock it took went with the connection).
            await connection.execute(f"UNLISTEN {OVERFLOW_CHANNEL}")
        await connection.execute(f"LISTEN {JOBS_CHANNEL}")
        self.listening, self.standing_by = True, False
        self._works()
        notified.set()  # the jobs notified before this LISTEN went to nobody (no listener, or a dead one)
        if self._busy:
            self._hand_on()
        try:
            while True:
                # Ends after one ping interval, even while notifications keep coming.
                async for _ in connection.notifies(timeout=self._ping_interval):
                    notified.set()  # also when busy: the job may still be due when a slot frees
                    if self._busy:
                        self._hand_on()
                await self._ping(connection)
        except asyncio.CancelledError:
            await self._leave(connection)
            raise

    async def _ping(self, connection: Any) -> None:
        """One statement: the server's idle-session timer starts again. Run between two ``notifies()``
        (the same task, never concurrently); psycopg keeps a notification that comes during it for the next
        ``notifies()``. Unanswered within half the session timeout (a cut connection): ``TimeoutError``,
        which ends this connection and the role with it (psycopg first tries to cancel the statement, for
        up to 10 s more)."""
        async with asyncio.timeout(self._session_timeout / 2):
            await connection.execute("SELECT 1")

    @staticmethod
    async def _leave(connection: Any) -> None:
        """Release ``LISTENER_LOCK`` and wake the standbys (``close``): one listens at once instead of at
        its next takeover attempt, while the jobs posted meanwhile would go to nobody. Best effort, bounded:
        closing the connection releases the lock anyway."""
        with contextlib.suppress(Exception):
            await asyncio.wait_for(_release_and_tell(connection), LEAVE_TIMEOUT)

    async def _take_lock(self, connection: Any) -> bool:
        """Try to take ``LISTENER_LOCK`` for this session (held until the connection closes). Taken, the
        same statement sets the session's timeouts (``listener_settings``; ``CASE``: only then): the session
        never holds the lock without them, even if the worker stops or is cut off right after."""
        take = f"pg_try_advisory_lock({LISTENER_LOCK})"
        settings = listener_settings(connection.info.server_version, self._session_timeout)
        if settings:
            values = " || ".join(
                f"set_config('{name}', '{value}', false)" for name, value in settings.items()
            )
            take = f"CASE WHEN {take} THEN ({values}) IS NOT NULL END"
        cursor = await connection.execute(f"SELECT {take}")
        row = await cursor.fetchone()
        return bool(row and row[0])

    def _hand_on(self) -> None:
        """Wake the standbys (coalesced: one NOTIFY for the notifications that came while one was sent)."""
        if self._overflow is None:
            self._overflow = asyncio.Event()
            self._tasks.append(asyncio.create_task(self._forward(self._overflow), name="job-signal-overflow"))
        self._overflow.set()
        self.handed_on += 1

    async def _forward(self, overflow: asyncio.Event) -> None:
        """Send a NOTIFY on ``OVERFLOW_CHANNEL`` whenever ``overflow`` is set, until cancelled."""
        import psycopg

        args, params = listener_connect_args(self._engine)
        failing = False  # a failure was logged (once per outage), until a NOTIFY is sent again
        while True:
            await overflow.wait()
            sent = False  # on this connection
            try:
                connection = await psycopg.AsyncConnection.connect(*args, **params)
                async with connection:
                    while True:
                        await overflow.wait()
                        overflow.clear()
                        try:
                            await connection.execute(f"NOTIFY {OVERFLOW_CHANNEL}")
                        except BaseException:
                            overflow.set()  # not sent: still owed to the standbys
                            raise
                        sent = True
                        if failing:
                            log.info("handing on job wake-ups works again")
                            failing = False
            except Exception as exc:  # psycopg.Error, OSError, a timeout...: never end the task silently
                if not failing:
                    # The standbys do not poll: this worker takes the jobs itself as its slots free.
                    log.warning(
                        "handing on a job wake-up failed (%r); only this worker leases meanwhile", exc
                    )
                    failing = True
                if not sent:  # a connection that worked, then broke (server restart, idle timeout),
                    await asyncio.sleep(RELISTEN_DELAY)  # is replaced at once: the wake-up is owed now

    def close(self) -> None:
        """Cancel the signal's tasks; they end in the background (a listener's ``_leave``, psycopg cancelling
        an interrupted statement on the server, the connections closing): ``aclose`` waits for them."""
        for task in self._tasks:
            task.cancel()
        self._closing = [task for task in (*self._closing, *self._tasks) if not task.done()]
        self._tasks = []
        self._notified = None
        self._overflow = None
        self.listening = self.standing_by = False

    async def aclose(self) -> None:
        """``close``, then wait up to ``CLOSE_TIMEOUT`` for the tasks to end. A worker awaits this before its
        run (and its event loop) ends: a task still in ``_leave`` or in psycopg's cancellation of a statement
        would be cancelled again by the loop's end, which cuts the standbys' wake-up and has psycopg close
        the connection with a warning ("query cancellation interrupted")."""
        self.close()
        self._closing = await _wait_closing(self._closing)


class PostgresChannelSignal:
    """``LISTEN``s on one channel on a connection of its own (psycopg, asynchronous), in a task that runs
    from the first ``wait`` until ``close``; a notification that comes while nobody waits ends the next wait
    at once, those that come while it runs are folded into one wake-up. Every instance listens: no listener
    role, no hand-on (``received_signal``: the claim decides which worker takes a document). After a
    failure it logs once per outage and listens again every ``RELISTEN_DELAY``; the worker's poll covers
    the outage.

    Args:
        engine: the store's engine (its connection parameters).
        channel: the channel to listen on.
    """

    def __init__(self, engine: Engine, channel: str) -> None:
        self._engine = engine
        self._channel = channel
        self._notified: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing: list[asyncio.Task[None]] = []
        self._failing = False
        #: True while the signal listens (for tests and diagnostics).
        self.listening = False

    async def wait(self) -> None:
        if self._notified is None:
            self._notified = asyncio.Event()
            self._task = asyncio.create_task(self._listen(self._notified), name=f"signal-{self._channel}")
        await self._notified.wait()
        self._notified.clear()

    def busy(self, busy: bool) -> None:
        """Nothing to hand on: every worker listens."""

    def polled_while_busy(self) -> None:
        """Nothing to hand on."""

    def poll_interval(self, interval: float) -> float:
        return interval

    async def _listen(self, notified: asyncio.Event) -> None:
        import psycopg  # the PostgreSQL driver; imported here so that SQLite deployments never need it

        args, params = listener_connect_args(self._engine)
        while True:
            try:
                connection = await psycopg.AsyncConnection.connect(*args, **params)
                async with connection:
                    await connection.execute(f"LISTEN {self._channel}")
                    self.listening = True
                    if self._failing:
                        log.info("the wake-up signal on %s connects again", self._channel)
                        self._failing = False
                    notified.set()  # what was notified before this LISTEN went to nobody
                    async for _ in connection.notifies():
                        notified.set()
            except Exception as exc:  # psycopg.Error, OSError, a timeout...: ending here ends the signal
                if not self._failing:
                    log.warning(
                        "the wake-up signal on %s failed (%r); the worker polls meanwhile", self._channel, exc
                    )
                    self._failing = True
            finally:
                self.listening = False
            await asyncio.sleep(RELISTEN_DELAY)

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._closing.append(self._task)
        self._task = None
        self._notified = None
        self.listening = False

    async def aclose(self) -> None:
        self.close()
        self._closing = await _wait_closing(self._closing)
