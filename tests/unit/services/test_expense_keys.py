"""The Idempotency-Keys of expense actions as the audit trail holds them (``services/expense_keys.py``): a key
is found only in its own client's entries, the same fingerprint is a replay, another is a conflict, and the
fingerprint covers the action and its input, key order aside."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gateway.errors import IdempotencyConflict
from gateway.model.expense import ActorRole, ExpenseAction, ExpenseEvent, ExpenseStatus
from gateway.model.message import JSONObject
from gateway.services.expense_keys import (
    IDEMPOTENCY_DETAIL_KEY,
    is_replay,
    request_fingerprint,
    with_key,
    without_key,
)

AT = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
QUESTION: JSONObject = {"question": "Which order?", "reason_codes": ["REF"]}


def entry(actor: str, action: ExpenseAction, detail: JSONObject | None) -> ExpenseEvent:
    return ExpenseEvent(
        "e-1",
        AT,
        actor,
        ActorRole.MEMBER,
        action,
        ExpenseStatus.TO_APPROVE,
        ExpenseStatus.UNDER_QUERY,
        "PU1",
        detail,
    )


def test_the_fingerprint_covers_the_action_and_the_input_not_the_key_order() -> None:
    query = request_fingerprint(ExpenseAction.QUERY, QUESTION)
    assert query == request_fingerprint(
        ExpenseAction.QUERY, {"reason_codes": ["REF"], "question": "Which order?"}
    )
    assert query != request_fingerprint(ExpenseAction.REJECT, QUESTION)
    assert query != request_fingerprint(ExpenseAction.QUERY, {**QUESTION, "question": "Which delivery?"})
    assert request_fingerprint(ExpenseAction.APPROVE, None) != request_fingerprint(ExpenseAction.SETTLE, None)


def test_a_key_is_a_replay_with_its_fingerprint_a_conflict_with_another_and_new_elsewhere() -> None:
    fingerprint = request_fingerprint(ExpenseAction.QUERY, QUESTION)
    detail = with_key({**QUESTION, "response_document_id": "r-1"}, "k-1", fingerprint)
    assert detail[IDEMPOTENCY_DETAIL_KEY] == {"key": "k-1", "request": fingerprint}
    assert detail["response_document_id"] == "r-1"
    trail = [
        entry("gateway", ExpenseAction.ROUTE, {"rule": "BT-10"}),
        entry("member-a", ExpenseAction.QUERY, detail),
        entry("helpdesk", ExpenseAction.ANSWER, None),
    ]
    assert is_replay(trail, "member-a", "k-1", fingerprint)
    with pytest.raises(IdempotencyConflict):
        is_replay(trail, "member-a", "k-1", request_fingerprint(ExpenseAction.APPROVE, None))
    assert not is_replay(trail, "member-a", "k-2", fingerprint)  # another key
    assert not is_replay(trail, "member-b", "k-1", fingerprint)  # another client's key is its own
    assert not is_replay([], "member-a", "k-1", fingerprint)


def test_a_detail_whose_key_entry_is_malformed_holds_no_key() -> None:
    fingerprint = request_fingerprint(ExpenseAction.APPROVE, None)
    for held in ("k-1", {"key": "k-1"}, {"key": "k-1", "request": 7}, {"request": fingerprint}):
        trail = [entry("member-a", ExpenseAction.APPROVE, {IDEMPOTENCY_DETAIL_KEY: held})]
        assert not is_replay(trail, "member-a", "k-1", fingerprint)


def test_readers_get_the_detail_without_the_key_the_store_keeps() -> None:
    keyed = entry("erp", ExpenseAction.QUERY, with_key(QUESTION, "k-1", "f"))
    shown = without_key(keyed)
    assert shown.detail == QUESTION
    assert keyed.detail is not None
    assert keyed.detail[IDEMPOTENCY_DETAIL_KEY] == {"key": "k-1", "request": "f"}  # the stored entry keeps it
    assert shown == entry("erp", ExpenseAction.QUERY, QUESTION)  # all else as it was
    assert without_key(entry("erp", ExpenseAction.APPROVE, with_key(None, "k-2", "f"))).detail is None
    plain = entry("erp", ExpenseAction.QUERY, QUESTION)
    assert without_key(plain) is plain
