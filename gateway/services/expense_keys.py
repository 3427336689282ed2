"""Idempotency-Keys of expense actions: an API client's key is kept in the audit detail of the action it
first came with (``IDEMPOTENCY_DETAIL_KEY``: the key and the fingerprint of the request); the key of a
request that changed nothing (a repeat: no audit entry) is kept in a table instead
(``ExpenseRepository.keep_action_key``, purged with the outbound keys after the idempotency retention). A
later request of the same client on the same expense with that key is a replay when its fingerprint (the
action and its normalised input) is the same, whatever happened to the expense since, and a conflict
otherwise. Readers of the expense never see it (``without_key``): it is the client's own request token,
not part of the expense's history."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Final

from gateway.errors import IdempotencyConflict
from gateway.model.expense import ExpenseAction, ExpenseEvent
from gateway.model.message import JSONObject

#: The key of an action's audit detail holding ``{"key": <Idempotency-Key>, "request": <fingerprint>}``.
IDEMPOTENCY_DETAIL_KEY: Final = "idempotency"


def request_fingerprint(action: ExpenseAction, request: JSONObject | None) -> str:
    """SHA-256 (hex) of the action and its normalised input (``request``: JSON, compared key order aside)."""
    canonical = json.dumps(
        {"action": action.value, "input": request}, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _held(event: ExpenseEvent, client: str, key: str) -> str | None:
    """The fingerprint ``event`` recorded under ``client``'s ``key``, None when it holds no such key."""
    if event.actor != client or not event.detail:
        return None
    held = event.detail.get(IDEMPOTENCY_DETAIL_KEY)
    if not isinstance(held, dict) or held.get("key") != key:
        return None
    fingerprint = held.get("request")
    return fingerprint if isinstance(fingerprint, str) else None


def is_replay(
    events: Sequence[ExpenseEvent],
    client: str,
    key: str,
    fingerprint: str,
    kept: Callable[[], str | None] | None = None,
) -> bool:
    """True when ``client`` sent a request on the expense with ``key`` and the same ``fingerprint``: the
    request is a retry of it, to be answered with the current state; False when the key is new here.

    Args:
        events: the expense's audit entries (any order).
        kept: the fingerprint kept for the key of a request that changed nothing (None: no such key),
            asked only when no audit entry holds the key.

    Raises:
        IdempotencyConflict: the key came with another action or another input.
    """
    held = next((h for h in (_held(event, client, key) for event in events) if h is not None), None)
    if held is None and kept is not None:
        held = kept()
    if held is None:
        return False
    if held != fingerprint:
        raise IdempotencyConflict(key)
    return True


def with_key(detail: JSONObject | None, key: str, fingerprint: str) -> JSONObject:
    """The audit ``detail`` of an action with the Idempotency-Key it came with."""
    return {**(detail or {}), IDEMPOTENCY_DETAIL_KEY: {"key": key, "request": fingerprint}}


def without_key(event: ExpenseEvent) -> ExpenseEvent:
    """``event`` as the expense's readers see it (``expense_queries.get_expense``: the API's events and the
    pages): its detail without the Idempotency-Key it came with, everything else kept; None when the key was
    all it held, as the same action without a key records. The stored entry keeps the key (``is_replay``)."""
    if not event.detail or IDEMPOTENCY_DETAIL_KEY not in event.detail:
        return event
    rest = {name: value for name, value in event.detail.items() if name != IDEMPOTENCY_DETAIL_KEY}
    return replace(event, detail=rest or None)
