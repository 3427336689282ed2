"""Running the gateway: the database, the worker, webhooks, the e-mail relay, retention and the HTTP
server's limits."""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import urlsplit

from pydantic import ConfigDict, Field, SecretStr, model_validator

from gateway.config.group import SettingsGroup
from gateway.smp.urls import is_loopback_host

#: Seconds a delivery lease must outlast the heartbeat's renewal interval: a beat that renews the leases
#: of the deliveries in flight may first wait the SQLite busy timeout (30 s,
#: ``gateway.store.DEFAULT_BUSY_TIMEOUT``) for the write lock, or a PostgreSQL pool checkout; the lease
#: must still run when that renewal lands, or a second worker could resend meanwhile. The send timeouts
#: do not matter: the heartbeat renews the leases while a send is in flight.
LEASE_MARGIN_SECONDS: Final = 40.0

#: ``database.sqlite_cache_kib``'s default (KiB per SQLite connection).
SQLITE_CACHE_KIB: Final = 256


class DatabaseSettings(SettingsGroup):
    url: str = "sqlite:///var/gateway.db"
    # Connections each process keeps open (SQLAlchemy's pool). None: on PostgreSQL sized to the process's
    # concurrency - serve: api.max_concurrent_bodies + as4.max_concurrent_requests; worker:
    # worker.max_in_flight + 2 (its lease and heartbeat); other commands 5 -, on SQLite 5 (a connection is
    # cheap to open there and each kept one holds a page cache of up to sqlite_cache_kib). A smaller pool
    # opens and closes a connection per use whenever more units of work run at once (issue 12: PostgreSQL
    # ~86 per 150 documents).
    pool_size: int | None = Field(default=None, ge=1, le=500)
    # Connections opened beyond pool_size when all are in use, closed again on return; past pool_size +
    # max_overflow a unit of work waits (30 s, then 503 / the job handed back). None: 5 on PostgreSQL (each
    # is a server connection), 10 on SQLite.
    max_overflow: int | None = Field(default=None, ge=0, le=500)
    # SQLite only: the page cache of each connection, KiB (PRAGMA cache_size; SQLite's default 2,000). Each
    # pooled or overflow connection fills its own with the reads and loses it at another's write (WAL), so
    # concurrent reads multiplied it in serve's peak memory (issue 12: BENCHMARKS.md, *Memory, twentieth
    # pass*).
    sqlite_cache_kib: int = Field(default=SQLITE_CACHE_KIB, ge=64, le=1024 * 1024)


class WorkerSettings(SettingsGroup):
    batch_size: int = Field(default=10, ge=1, le=500)  # most jobs leased by one query
    max_in_flight: int = Field(default=20, ge=1, le=500)  # deliveries in flight per worker process
    # A send that has waited this long for its answer no longer holds one of the max_in_flight slots (at
    # most max_in_flight sends are set aside so; per_endpoint still bounds each receiver): one slow or
    # silent receiver does not shrink the pipeline for the others (issue 12, part 3).
    slow_send_seconds: float = Field(default=1.0, gt=0)
    # Memory budget of a worker process: MiB of documents (stored UBL) its deliveries in flight hold at once,
    # sends set aside included (worker/budget.py). A delivery costs the worker ≈ 4.3 times its document (its
    # AS4 message and the send's buffers besides: measured with a 20 MB document), so 64 MiB of documents is
    # ≈ 275 MiB of worker memory: within a 2 GB container beside serve (its own bound: 192 MiB of request
    # bodies). Ordinary invoices (10-100 KB) never reach it, even 40 at once; 5-20 MiB PDF attachments,
    # base64 in the UBL (a third larger: 6.7-27 MiB), go 2 to 9 at a time instead of up to 40 (≈ 4.6 GB
    # with 27 MiB each). Leases beyond it are handed back, not counted as attempts; a document larger than
    # the budget still goes, alone.
    max_in_flight_mib: int = Field(default=64, ge=1, le=64 * 1024)
    per_endpoint: int = Field(default=4, ge=1, le=500)  # sends in flight to one endpoint URL per process
    breaker_failures: int = Field(default=5, ge=1)  # consecutive transport failures that open a circuit
    breaker_open_seconds: float = Field(default=30.0, gt=0)  # first open period, doubled per failed probe
    breaker_max_open_seconds: float = Field(default=600.0, gt=0)
    # The longest a document posted to an idle worker waits for it (and a due webhook); an idle poll is one
    # short lease query (it writes nothing), so 4 per second cost next to nothing (issue 12: was 1 s).
    poll_interval_seconds: float = Field(default=0.25, gt=0)
    lease_seconds: float = Field(default=50.0, gt=0)
    lease_renew_seconds: float = Field(default=10.0, gt=0)
    max_attempts: int = Field(default=12, ge=1)
    backoff_base_seconds: float = Field(default=30.0, gt=0)
    backoff_cap_seconds: float = Field(default=3600.0, gt=0)
    connect_timeout_seconds: float = Field(default=10.0, gt=0)
    send_timeout_seconds: float = Field(default=120.0, gt=0)  # a Peppol receiver must answer within 2 minutes
    # glibc's mmap threshold of the worker process, fixed as server.malloc_mmap_threshold_bytes (0: glibc's
    # dynamic threshold): a worker that sent a 20 MB document would otherwise keep its buffers.
    malloc_mmap_threshold_bytes: int = Field(default=128 * 1024, ge=0, le=32 * 1024 * 1024)

    @model_validator(mode="after")
    def _lease_outlasts_a_renewal(self) -> WorkerSettings:
        if self.lease_seconds < self.lease_renew_seconds + LEASE_MARGIN_SECONDS:
            raise ValueError(
                f"worker.lease_seconds ({self.lease_seconds:g}) must exceed worker.lease_renew_seconds "
                f"({self.lease_renew_seconds:g}) by at least {LEASE_MARGIN_SECONDS:g} s"
            )
        if self.breaker_max_open_seconds < self.breaker_open_seconds:
            raise ValueError(
                "worker.breaker_max_open_seconds must not be less than worker.breaker_open_seconds"
            )
        return self


class WebhookSettings(SettingsGroup):
    url: str | None = None
    secret: SecretStr | None = None
    timeout_seconds: float = Field(default=10.0, gt=0)
    max_attempts: int = Field(default=10, ge=1)

    @model_validator(mode="after")
    def _secret_with_url(self) -> WebhookSettings:
        # Unsigned webhooks could be forged by anyone who can reach the receiver: refuse them.
        if self.url and (self.secret is None or len(self.secret.get_secret_value()) < 16):
            raise ValueError("webhooks.url needs webhooks.secret of at least 16 characters")
        if self.url and not _https_or_loopback(self.url):
            # The URL may carry a token and the payload business data: only TLS leaves the host. The
            # message never repeats the URL.
            raise ValueError("webhooks.url must be an https:// URL (plain http only to a loopback host)")
        return self


def _https_or_loopback(url: str) -> bool:
    """True for an https URL with a host, or an http URL to localhost / a loopback address."""
    parsed = urlsplit(url)
    if not parsed.hostname:
        return False
    return parsed.scheme == "https" or (parsed.scheme == "http" and is_loopback_host(parsed.hostname))


class MailSettings(SettingsGroup):
    """The e-mail fallback's SMTP relay (``GATEWAY_MAIL__…``); no host: no fallback, as before."""

    host: str | None = None
    port: int = Field(default=587, ge=1, le=65535)
    starttls: bool = True
    username: str | None = None
    password: SecretStr | None = None
    model_config = ConfigDict(populate_by_name=True)

    sender: str = Field(default="invoices@coop.example", alias="from")
    timeout_seconds: float = Field(default=30.0, gt=0)

    @model_validator(mode="before")
    @classmethod
    def _one_name_for_the_sender(cls, data: Any) -> Any:
        # ``from`` and ``sender`` name one setting: given both, pydantic would call ``sender`` an unknown key.
        if isinstance(data, dict) and {"from", "sender"} <= {str(key).lower() for key in data}:
            raise ValueError(
                "from and sender are one setting (GATEWAY_MAIL__FROM or GATEWAY_MAIL__SENDER): give one"
            )
        return data

    @model_validator(mode="after")
    def _login_over_tls(self) -> MailSettings:
        # The password must never cross the network in clear (RFC 4954 §4: AUTH PLAIN over TLS only).
        if self.username and not self.starttls and self.host not in (None, "localhost", "127.0.0.1", "::1"):
            raise ValueError("mail.username needs mail.starttls=true (or a loopback relay)")
        if self.username and self.password is None:
            raise ValueError("mail.username needs mail.password")
        return self


class RetentionSettings(SettingsGroup):
    """Retention of the working tables (purged by ``gateway worker``) and of the evidence (never purged)."""

    idempotency_days: float = Field(default=30.0, gt=0)
    delivered_webhook_days: float = Field(default=7.0, gt=0)
    batch_size: int = Field(default=500, ge=1, le=10000)
    interval_seconds: float = Field(default=600.0, gt=0)
    # Belgian VAT code art. 60 §3 (invoices from 2023): 10 years. Lower values are refused.
    evidence_years: int = Field(default=10, ge=10)


class ServerSettings(SettingsGroup):
    """Connection limits and read deadlines of ``gateway serve``, sized for a 2-core, 2 GB container.

    ``max_connections`` open connections at most: a new one evicts the oldest connection still sending
    its request head (or is closed when none is). Request heads must arrive within ``header_timeout_seconds``,
    bodies without a pause longer than ``body_idle_timeout_seconds`` and within ``body_timeout_seconds``.
    """

    max_connections: int = Field(default=512, ge=1)
    limit_concurrency: int = Field(default=1024, ge=1)  # uvicorn: connections + tasks before it answers 503
    backlog: int = Field(default=256, ge=1)
    timeout_keep_alive_seconds: int = Field(default=5, ge=1)
    max_header_bytes: int = Field(default=16 * 1024, ge=1024)  # h11_max_incomplete_event_size
    header_timeout_seconds: float = Field(default=10.0, gt=0)
    body_idle_timeout_seconds: float = Field(default=15.0, gt=0)
    body_timeout_seconds: float = Field(default=120.0, gt=0)
    # Request-body bytes buffered at once over /v1 and /as4 (503 + Retry-After beyond): one maximal AS4
    # message and room for the rest; with the join and the parse this keeps a 2 GB container safe.
    max_buffered_body_bytes: int = Field(default=192 * 1024 * 1024, ge=1024 * 1024)
    # Seconds a request waits for a body slot (api.max_concurrent_bodies, as4.max_concurrent_requests)
    # before 503 + Retry-After: bursts queue briefly instead of failing; the waiting body stays unread.
    body_slot_wait_seconds: float = Field(default=10.0, ge=0)
    # The one Retry-After of every 503 (/v1 and /as4: store unavailable, body slots or bytes taken, AS4
    # receiving not configured): each is a temporary state that clears in seconds (a lock wait, a restart,
    # a burst), and a longer hint only delays the retry. AS4 senders retry on their own P-Mode schedule.
    retry_after_seconds: int = Field(default=5, ge=1)
    # /metrics, /docs, /redoc and /openapi.json need an API key (any role) unless opened here.
    open_operations: bool = False
    # Rejected-request evidence older than as4.rejected_evidence_retention_days is purged on this timer.
    purge_interval_seconds: float = Field(default=600.0, gt=0)
    # glibc malloc arenas of the serve process (mallopt M_ARENA_MAX, set before its threads start): each
    # thread pool thread would otherwise get an arena of its own, each keeping freed memory. 0: glibc's
    # default (8 per core).
    malloc_arenas: int = Field(default=2, ge=0, le=64)
    # glibc's mmap threshold, fixed (mallopt M_MMAP_THRESHOLD): blocks from this size up are mmapped and
    # returned to the system when freed, also after a multi-MB document (glibc's dynamic threshold would
    # rise to that document's size and keep such buffers in the arenas). 0: glibc's dynamic threshold.
    malloc_mmap_threshold_bytes: int = Field(default=128 * 1024, ge=0, le=32 * 1024 * 1024)
