"""The small adapters the composition root plugs in: the system clock, ids and jitter, the artefact
store, the validation engine, the PDF renderer of the e-mail fallback (so many prints at once at most),
and the migrated store."""

from __future__ import annotations

import random
import threading
import uuid
from datetime import UTC, datetime
from typing import Final, Literal

from gateway.config import Settings
from gateway.render import OutputFormat, render_document
from gateway.services.ports import DocumentStore, PDFRenderer, RandomSource
from gateway.store import SQLDocumentStore, normalise_url, upgrade_database
from gateway.transport import HTTPArtefactFetcher
from gateway.validation import ArtefactStore, Evaluation, ValidationEngine


class SystemClock:
    """The real clock, always timezone-aware UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class UUIDFactory:
    """Random UUID4 identifiers as strings."""

    def new_id(self) -> str:
        return str(uuid.uuid4())


def build_artefact_store(settings: Settings) -> ArtefactStore:
    """The artefact store: mirror directory, then cache, then (if enabled) upstream download."""
    fetch = HTTPArtefactFetcher() if settings.artefacts.download else None
    return ArtefactStore.from_paths(
        mirror=settings.artefacts.mirror,
        cache_dir=settings.artefacts.cache_dir,
        fetch=fetch,
        manifest_path=settings.artefacts.manifest,
    )


def build_validation_engine(
    settings: Settings,
    *,
    store: ArtefactStore | None = None,
    rule_set: str | None = None,
    evaluation: Evaluation | None = None,
) -> ValidationEngine:
    """A validation engine; stylesheets compile on first use or on ``warm_up()``.

    Args:
        settings: the artefact and validation settings.
        store: the artefact store, when the caller already built one (default: a new one).
        rule_set: the default rule set (default: ``settings.validation.rule_set``).
        evaluation: fused or official stylesheets (default: ``settings.validation.evaluation``).
    """
    return ValidationEngine(
        store or build_artefact_store(settings),
        default_rule_set=rule_set or settings.validation.rule_set,
        max_bytes=settings.validation.max_document_bytes,
        evaluation=evaluation or Evaluation(settings.validation.evaluation),
        saxon_heap=(
            settings.validation.saxon_young_generation_mib,
            settings.validation.saxon_max_free_heap_mib,
        ),
        saxon_options=tuple(settings.validation.saxon_isolate_options),
        trim_above_bytes=settings.validation.malloc_trim_above_bytes,
        official_compiles_per_minute=settings.validation.official_error_compiles_per_minute,
        strip_blank_text=settings.validation.strip_blank_text,
    )


def system_jitter() -> RandomSource:
    return random.SystemRandom().random


def render_pdf(ubl: bytes, language: str) -> bytes:
    """The ``PDFRenderer`` of the e-mail fallback: the same rendering as ``GET …/render?format=pdf``."""
    from gateway.render.html import RenderOptions  # Jinja2, Babel and segno on the first e-mail only

    return render_document(ubl, OutputFormat.PDF, RenderOptions(language=language))


class LimitedPrinter:
    """A ``PDFRenderer`` printing at most ``capacity`` PDFs at once in the process
    (``settings.render.max_concurrent_pdfs``, as ``serve``'s print slots).

    A worker keeps up to ``worker.max_in_flight`` deliveries in flight, each composing its e-mail in a
    thread: without it as many large PDFs printed at once. A print waits for a slot without a bound (a
    delivery has no caller to answer 503 to, its lease is kept alive meanwhile, and each print ahead of it
    ends: the page size is capped).
    """

    def __init__(self, render: PDFRenderer, capacity: int) -> None:
        self._render = render
        self.capacity = capacity
        self._slots = threading.BoundedSemaphore(capacity)

    def __call__(self, ubl: bytes, language: str) -> bytes:
        with self._slots:
            return self._render(ubl, language)


Process = Literal["serve", "worker", "command"]
"""Which process opens the store: on PostgreSQL its pool is sized to that process's concurrency."""

#: Units of work a worker runs beside its deliveries' steps: the lease (or release) and the heartbeat.
WORKER_OWN_UNITS: Final = 2

#: SQLAlchemy's defaults: SQLite's pool, and the pool of the one-shot commands on PostgreSQL.
DEFAULT_POOL_SIZE: Final = 5
SQLITE_MAX_OVERFLOW: Final = 10

#: PostgreSQL connections opened beyond a sized pool at busy moments (webhooks, retention, reporting).
POSTGRES_MAX_OVERFLOW: Final = 5


def pool_size(settings: Settings, process: Process) -> int:
    """Connections ``process`` keeps open: ``database.pool_size``, else on PostgreSQL the units of work the
    process runs at once, on SQLite 5.

    ``serve`` runs at most ``api.max_concurrent_bodies`` submissions and ``as4.max_concurrent_requests``
    AS4 messages at once (reads of the API and pages are short and share them); a worker up to
    ``worker.max_in_flight`` deliveries, each step a unit of work, beside its lease and heartbeat (the sends
    it sets aside after ``worker.slow_send_seconds`` hold no connection while they wait; the steps after
    their answers share the pool and its overflow, a step's connection held for milliseconds). On
    PostgreSQL a new connection is a server backend (a fork and an authentication); a SQLite connection
    is a file opened in the process (five PRAGMAs), cheap to open, and each kept one holds a page cache of
    up to ``database.sqlite_cache_kib`` in ``serve``'s memory: measured in ``bench e2e`` with SQLite's
    2,000 KiB, 8 kept connections cost ``serve`` 4-5 MiB of peak for 0.06 new connections per document
    saved.
    """
    if settings.database.pool_size is not None:
        return settings.database.pool_size
    if not _postgres(settings) or process == "command":
        return DEFAULT_POOL_SIZE
    if process == "serve":
        return settings.api.max_concurrent_bodies + settings.as4.max_concurrent_requests
    return settings.worker.max_in_flight + WORKER_OWN_UNITS


def max_overflow(settings: Settings) -> int:
    """Connections opened beyond the pool when all are in use: ``database.max_overflow``, else 5 on
    PostgreSQL (each is a server connection) and SQLAlchemy's 10 on SQLite."""
    if settings.database.max_overflow is not None:
        return settings.database.max_overflow
    return POSTGRES_MAX_OVERFLOW if _postgres(settings) else SQLITE_MAX_OVERFLOW


def _postgres(settings: Settings) -> bool:
    return normalise_url(settings.database.url).get_backend_name() == "postgresql"


def build_store(settings: Settings, process: Process = "command") -> DocumentStore:
    """Migrate the database to the newest schema and open the store, its pool sized for ``process``.

    The pool opens a connection when a unit of work needs one and keeps up to ``pool_size`` of them
    open; ``database.max_overflow`` more are opened at busy moments and closed on return.
    """
    upgrade_database(settings.database.url)
    return SQLDocumentStore.from_url(
        settings.database.url,
        pool_size=pool_size(settings, process),
        max_overflow=max_overflow(settings),
        sqlite_cache_kib=settings.database.sqlite_cache_kib,
    )
