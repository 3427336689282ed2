"""Load for ``gateway bench e2e``: unique copies of a template document posted open-loop at a fixed rate
or as a burst, waiting until every copy is final, and reading when each was delivered from its timeline."""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx

UNFINISHED_STATUSES = ("accepted", "sending", "retrying")
"""Statuses of a document still on its way (a worker will act on it)."""

LIST_PAGE_SIZE = 500
"""Page size of ``GET /v1/outbound`` while waiting (the API's maximum)."""

READ_ATTEMPTS = 60
"""Tries of one status read answered 5xx or failing at the transport, one second apart: an overloaded
gateway (e.g. its database pool exhausted) must not end the measurement, only delay the reading."""


class Answer(Protocol):
    """What the load generator reads of a POST's answer (httpx's ``Response`` has it)."""

    @property
    def status_code(self) -> int: ...

    @property
    def text(self) -> str: ...

    def json(self) -> Any: ...


class Poster(Protocol):
    """Sends the load's POSTs: ``e2e_client.LoopbackPoster`` (``bench e2e``) or an ``httpx.AsyncClient``."""

    async def post(self, url: str, *, content: bytes, headers: dict[str, str]) -> Answer: ...


class InvoiceCopies:
    """Copies of one JSON document, each with its own number: (seller, number) is unique per gateway.

    Args:
        template: the JSON document (``kind`` selects the route; invoice when absent).
        tag: a short run tag put into every number, so runs never collide.
    """

    def __init__(self, template: bytes, *, tag: str) -> None:
        self._template: dict[str, Any] = json.loads(template)
        self._tag = tag
        kind = self._template.get("kind", "invoice")
        self.route = "/v1/outbound/credit-notes" if kind == "credit_note" else "/v1/outbound/invoices"

    def copy(self, index: int) -> tuple[str, bytes]:
        """The number and the JSON body of copy ``index``."""
        number = f"BENCH-{self._tag}-{index:06d}"
        return number, json.dumps({**self._template, "number": number}).encode()


@dataclass(frozen=True)
class Posting:
    """One posted copy, as the client saw it.

    Attributes:
        number: the document number.
        sent_at: wall-clock time the request was sent (UTC; the timeline uses the same clock).
        lag_seconds: how late the request left against its schedule (open loop), else 0.
        response_seconds: time until the POST answered.
        http_status: the answer's status code; None when the request itself failed.
        document_id: the outbound id of an accepted copy.
        error: why the copy was not accepted, if it was not.
    """

    number: str
    sent_at: datetime
    lag_seconds: float
    response_seconds: float
    http_status: int | None
    document_id: str | None
    error: str | None


async def _post_one(client: Poster, copies: InvoiceCopies, index: int, lag: float) -> Posting:
    number, body = copies.copy(index)
    sent_at = datetime.now(UTC)
    started = time.perf_counter()
    try:
        response = await client.post(copies.route, content=body, headers={"Content-Type": "application/json"})
    except httpx.HTTPError as exc:
        elapsed = time.perf_counter() - started
        return Posting(number, sent_at, lag, elapsed, None, None, f"{type(exc).__name__}: {exc}")
    elapsed = time.perf_counter() - started
    if response.status_code in (200, 201, 202):
        return Posting(number, sent_at, lag, elapsed, response.status_code, response.json()["id"], None)
    return Posting(number, sent_at, lag, elapsed, response.status_code, None, response.text[:300])


async def post_open_loop(
    client: Poster, copies: InvoiceCopies, *, first: int, count: int, rate: float
) -> list[Posting]:
    """Post ``count`` copies at ``rate`` per second on a fixed schedule, whatever the answers (open loop).

    Request ``k`` is sent at ``start + k / rate`` even when earlier requests are still waiting, so a
    slow gateway shows as latency instead of lowering the offered rate.
    """
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.05
    tasks: list[asyncio.Task[Posting]] = []
    for k in range(count):
        due = start + k / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(_post_one(client, copies, first + k, max(0.0, loop.time() - due))))
    return list(await asyncio.gather(*tasks))


async def post_burst(
    client: Poster, copies: InvoiceCopies, *, first: int, count: int, concurrency: int
) -> list[Posting]:
    """Post ``count`` copies as fast as the gateway takes them, ``concurrency`` requests at a time."""
    gate = asyncio.Semaphore(concurrency)

    async def one(index: int) -> Posting:
        async with gate:
            return await _post_one(client, copies, index, 0.0)

    return list(await asyncio.gather(*(one(first + k) for k in range(count))))


async def _get_json(client: httpx.AsyncClient, url: str, params: dict[str, str | int] | None = None) -> Any:
    """GET ``url`` and decode its JSON, retrying 5xx answers and transport errors (``READ_ATTEMPTS``)."""
    for attempt in range(READ_ATTEMPTS):
        try:
            response = await client.get(url, params=params)
        except httpx.TransportError:
            if attempt == READ_ATTEMPTS - 1:
                raise
        else:
            if response.status_code < 500 or attempt == READ_ATTEMPTS - 1:
                response.raise_for_status()
                return response.json()
        await asyncio.sleep(1.0)
    raise AssertionError("unreachable")  # the last attempt returns or raises


async def list_statuses(client: httpx.AsyncClient) -> dict[str, str]:
    """Every outbound document id -> its status (all pages of ``GET /v1/outbound``)."""
    statuses: dict[str, str] = {}
    cursor: str | None = None
    while True:
        params: dict[str, str | int] = {"limit": LIST_PAGE_SIZE}
        if cursor:
            params["cursor"] = cursor
        page = await _get_json(client, "/v1/outbound", params)
        statuses.update({item["id"]: item["status"] for item in page["items"]})
        cursor = page.get("next_cursor")
        if not cursor:
            return statuses


async def wait_until_final(
    client: httpx.AsyncClient,
    ids: Iterable[str],
    *,
    timeout: float,
    interval: float = 0.25,
    on_final: Callable[[], object] | None = None,
    unfinished: Sequence[str] = UNFINISHED_STATUSES,
    besides: Collection[str] = (),
) -> dict[str, str]:
    """Wait until no document of the gateway is on its way (none ``accepted``, ``sending`` or ``retrying``),
    but those of ``besides``, or ``timeout`` passes; then read the status of each of ``ids`` from the
    document list.

    Each round asks for one document per unfinished status (three small requests), so the waiting costs
    the gateway under test next to nothing however many documents there are; the measured times come
    from the timelines, so the polling interval does not bias them. The gateway must hold only the
    benchmark's documents (it does: a fresh database per cell).

    Args:
        on_final: called once the waiting ends, before the statuses are read (the CPU figures stop there:
            what the benchmark reads afterwards is not the pipeline's work).
        unfinished: the statuses waited out (``delivered`` too when an MLS is awaited).
        besides: documents not waited for (a silent endpoint's, which stay ``retrying``).

    Returns:
        id -> last seen status (``unknown`` if the list did not show it).
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not await any_unfinished(client, unfinished, besides=besides):
            break
        await asyncio.sleep(interval)
    if on_final is not None:
        on_final()
    statuses = await list_statuses(client)
    return {doc_id: statuses.get(doc_id, "unknown") for doc_id in set(ids)}


async def any_unfinished(
    client: httpx.AsyncClient, statuses: Sequence[str] = UNFINISHED_STATUSES, *, besides: Collection[str] = ()
) -> bool:
    """True while some outbound document but those of ``besides`` is still on its way (in one of
    ``statuses``): a page per status one longer than ``besides`` (more pages only past the list's limit)."""
    ignored = set(besides)
    for status in statuses:
        params: dict[str, str | int] = {"status": status, "limit": min(len(ignored) + 1, LIST_PAGE_SIZE)}
        while True:
            page = await _get_json(client, "/v1/outbound", params)
            if any(item["id"] not in ignored for item in page["items"]):
                return True
            if not page.get("next_cursor"):
                break
            params["cursor"] = page["next_cursor"]
    return False


async def delivered_times(
    client: httpx.AsyncClient, ids: Sequence[str], *, concurrency: int = 8
) -> dict[str, datetime | None]:
    """id -> when the document became delivered (its timeline's ``to_status == delivered`` entry), or None."""
    times = await status_times(client, ids, ("delivered",), concurrency=concurrency)
    return {doc_id: at.get("delivered") for doc_id, at in times.items()}


async def status_times(
    client: httpx.AsyncClient, ids: Sequence[str], statuses: Sequence[str], *, concurrency: int = 8
) -> dict[str, dict[str, datetime]]:
    """id -> {status -> when the document first turned into it} for ``statuses``, from its timeline."""
    gate = asyncio.Semaphore(concurrency)

    async def one(doc_id: str) -> tuple[str, dict[str, datetime]]:
        async with gate:
            detail = await _get_json(client, f"/v1/outbound/{doc_id}")
        found: dict[str, datetime] = {}
        for entry in detail["timeline"]:
            if entry["to_status"] in statuses and entry["to_status"] not in found:
                found[entry["to_status"]] = datetime.fromisoformat(entry["at"])
        return doc_id, found

    return dict(await asyncio.gather(*(one(doc_id) for doc_id in ids)))


async def count_inbound(client: httpx.AsyncClient) -> int:
    """How many documents the gateway's ``/as4`` endpoint stored (all pages of ``GET /v1/inbound``)."""
    total = 0
    cursor: str | None = None
    while True:
        params: dict[str, str | int] = {"limit": LIST_PAGE_SIZE}
        if cursor:
            params["cursor"] = cursor
        page = await _get_json(client, "/v1/inbound", params)
        total += len(page["items"])
        cursor = page.get("next_cursor")
        if not cursor:
            return total


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (nearest rank) of ``values``; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]
