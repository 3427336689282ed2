"""How one delivery attempt ended, as data: the answer (or its absence) judged delivered / retry / give up.

Pure functions over the AS4 core's verdicts; ``gateway.services.deliver`` turns them into status transitions.
The choices, with their grounds:

* Verified receipt -> delivered (peppol-as4.md §7.2 sender checks).
* Network error, timeout, connection reset -> retry the same bytes (phase4 TRANSPORT_ERROR, AS4 1.0 §3.2).
* No signal at all (empty body, HTML error page, any HTTP status) -> retry (NO_SIGNAL_MESSAGE_RECEIVED; an
  HTTP 5xx without a valid signal is the receiver's or a proxy's trouble, not a verdict on our message).
* ebMS Error -> the error's own ``retryable`` flag (EBMS:0005/0201/0202/0301 retry; 0004 incl.
  PEPPOL:NOT_SERVICED, 0101, 0102 ... fail at once).
* Invalid receipt (bad signature, wrong signer, NRI or RefToMessageId mismatch) -> RETRY, unlike phase4,
  which gives up (INVALID_SIGNAL_MESSAGE_RECEIVED is not "retry feasible" there). phase4 retries in-process
  for 10 s only; our retries are durable and bounded by the attempt limit. A bad receipt leaves the
  delivery *unproven*, not refused: it comes from receiver misconfiguration (a rotated key that the
  directory/SMP does not list yet), a proxy rewriting the body or an attacker, all of which may clear up,
  and resending the same MessageId is harmless (the receiver deduplicates it and should answer with the
  original receipt, peppol-as4.md §14 item 9). If it never clears up, the document fails with
  ``retries-exhausted`` and the last bad receipt kept as evidence.
* Duplicate detected (EBMS:4001, or EBMS:0004 whose detail says "duplicate", phase4 before 4.5.0) after an
  earlier attempt of the SAME message may have reached the receiver -> "probably delivered" (peppol-as4.md
  §14 item 9): the lost response of that earlier attempt most likely carried the receipt. We only accept it
  when the Error signal is signed by the receiver certificate (an unsigned error could be forged to stop a
  delivery); the document becomes DELIVERED with reason ``probably-delivered`` and the Error stored as
  evidence, so support can reconcile with the receiver. A duplicate on the very first send means the
  receiver already holds another message with our ids: that is a permanent failure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Final

from gateway.as4 import EbmsError, ReceiptVerdict, SendOutcome
from gateway.model.message import AS4Signal, HTTPHeaders, JSONObject, RawHTTPMessage, SignalKind

#: Longest excerpt of a non-signal response body kept in the timeline (support staff need a hint, not a dump).
BODY_EXCERPT_CHARS: Final = 200
#: Error codes meaning "this MessageId was received before" (phase4 >= 4.5.0: 4001; older phase4: 0004).
DUPLICATE_CODES: Final = frozenset({EbmsError.DUPLICATE_DETECTED.code})


class AttemptResult(StrEnum):
    """What the attempt means for the document."""

    DELIVERED = "delivered"
    EMAILED = "emailed"
    """The e-mail fallback's relay accepted the message (``delivered_by_email``)."""
    RETRY = "retry"
    GIVE_UP = "give-up"


@dataclass(frozen=True, slots=True)
class AttemptOutcome:
    """The judged result of one attempt.

    Attributes:
        result: delivered, retry later, or give up now.
        reason: short text for the document's status reason, prefixed with a stable code
            (``ebms-error``, ``invalid-receipt``, ``no-signal``, ``transport``, ``endpoint-not-found``, ...).
        outcome: the phase4-style send outcome, None when nothing was sent.
        detail: JSON for the timeline entry (HTTP status, ebMS code, ...).
        signal: the answer to store as evidence on the AS4 message, if it was a signal.
        probably_delivered: DELIVERED on the strength of an authentic duplicate error, not a receipt.
    """

    result: AttemptResult
    reason: str | None
    outcome: SendOutcome | None = None
    detail: JSONObject = field(default_factory=dict)
    signal: AS4Signal | None = None
    probably_delivered: bool = False


def is_duplicate_error(verdict: ReceiptVerdict) -> bool:
    """True when the receiver answered that it has seen this message before (peppol-as4.md §14 item 9)."""
    if verdict.outcome is not SendOutcome.AS4_ERROR_MESSAGE_RECEIVED:
        return False
    for code, text in verdict.errors:
        if code in DUPLICATE_CODES:
            return True
        if code == EbmsError.OTHER.code and "duplicate" in text.lower():
            return True
    return False


def _excerpt(body: bytes) -> str:
    return body[:BODY_EXCERPT_CHARS].decode("utf-8", "replace")


def judge_response(
    status: int,
    headers: HTTPHeaders,
    body: bytes,
    verdict: ReceiptVerdict,
    *,
    at: datetime,
    previously_sent: bool,
    duplicate_authentic: bool,
    receipt_facts: Mapping[str, object] | None = None,
) -> AttemptOutcome:
    """Judge the HTTP answer to our UserMessage (see the module docstring for the rules).

    Args:
        status / headers / body: the HTTP response as received.
        verdict: ``gateway.as4.verify_receipt`` on it.
        at: when the answer arrived (stamped on the stored signal).
        previously_sent: an earlier attempt sent the same message (it may have been delivered).
        duplicate_authentic: for a duplicate error: it is signed by the receiver certificate.
        receipt_facts: extra facts for the receipt summary (e.g. signer CN, number of references).
    """
    detail: JSONObject = {"http_status": status, "outcome": verdict.outcome.value}
    raw = RawHTTPMessage(headers, body)
    summary: JSONObject = {
        "signal_message_id": verdict.signal_message_id,
        "ref_to_message_id": verdict.ref_to_message_id,
        "http_status": status,
    }
    if verdict.is_success:
        summary.update({"valid": True, **dict(receipt_facts or {})})
        signal = AS4Signal(SignalKind.RECEIPT, raw, at, None, summary)
        return AttemptOutcome(AttemptResult.DELIVERED, None, verdict.outcome, detail, signal)

    if verdict.outcome is SendOutcome.AS4_ERROR_MESSAGE_RECEIVED:
        code = verdict.errors[0][0] if verdict.errors else (verdict.ebms.code if verdict.ebms else "")
        detail.update({"ebms_code": code, "errors": [list(e) for e in verdict.errors]})
        summary.update({"valid": False, "errors": [list(e) for e in verdict.errors]})
        signal = AS4Signal(SignalKind.ERROR, raw, at, code or None, summary)
        text = f"{code} {verdict.detail}".strip()
        if is_duplicate_error(verdict):
            detail["duplicate"] = True
            if not previously_sent:
                return AttemptOutcome(
                    AttemptResult.GIVE_UP,
                    f"duplicate-on-first-send: {text} (the receiver already holds a message with our ids)",
                    verdict.outcome,
                    detail,
                    signal,
                )
            if duplicate_authentic:
                return AttemptOutcome(
                    AttemptResult.DELIVERED,
                    f"probably-delivered: the receiver reports a duplicate ({text}) of a message sent in an "
                    "earlier attempt whose response was lost; no receipt was received",
                    verdict.outcome,
                    detail,
                    signal,
                    probably_delivered=True,
                )
            # A duplicate claim we cannot authenticate must not end the delivery either way: try again.
            return AttemptOutcome(
                AttemptResult.RETRY, f"unverified-duplicate-error: {text}", verdict.outcome, detail, signal
            )
        result = AttemptResult.RETRY if verdict.is_retryable else AttemptResult.GIVE_UP
        return AttemptOutcome(result, f"ebms-error: {text}", verdict.outcome, detail, signal)

    if verdict.outcome is SendOutcome.INVALID_SIGNAL_MESSAGE_RECEIVED:
        detail["invalid"] = verdict.detail
        if verdict.signal_message_id is not None or verdict.ref_to_message_id is not None:
            # A readable signal that failed the checks: keep it as evidence of what the receiver said.
            summary.update({"valid": False, "problem": verdict.detail})
            signal = AS4Signal(SignalKind.RECEIPT, raw, at, None, summary)
            return AttemptOutcome(
                AttemptResult.RETRY, f"invalid-receipt: {verdict.detail}", verdict.outcome, detail, signal
            )
        detail["body_excerpt"] = _excerpt(body)
        return AttemptOutcome(
            AttemptResult.RETRY,
            f"no-signal: HTTP {status} without a valid ebMS signal ({verdict.detail})",
            verdict.outcome,
            detail,
        )

    # NO_SIGNAL_MESSAGE_RECEIVED (empty body) and any other outcome the AS4 core may add later.
    detail["body_excerpt"] = _excerpt(body)
    result = AttemptResult.RETRY if verdict.is_retryable else AttemptResult.GIVE_UP
    return AttemptOutcome(result, f"no-signal: HTTP {status} ({verdict.detail})", verdict.outcome, detail)


def judge_transport_error(message: str, *, retryable: bool, code: str = "transport") -> AttemptOutcome:
    """The outcome of a send that got no HTTP response (timeout, refused, reset, TLS, protocol error, or
    an endpoint address the stage does not connect to); ``code`` prefixes the reason."""
    outcome = SendOutcome.TRANSPORT_ERROR if retryable else SendOutcome.TRANSPORT_ERROR_NO_RETRY
    return AttemptOutcome(
        AttemptResult.RETRY if retryable else AttemptResult.GIVE_UP,
        f"{code}: {message}",
        outcome,
        {"outcome": outcome.value, "error": message},
    )


def judge_internal_error(error: Exception, status: int, body: bytes) -> AttemptOutcome:
    """The outcome of an answer that could not be judged because judging raised (a bug, or an input the
    AS4 core did not foresee): retry the same bytes later, with the reason and a body excerpt recorded, so
    the timeline shows why and the attempt limit still ends it."""
    message = f"{type(error).__name__}: {error}"
    return AttemptOutcome(
        AttemptResult.RETRY,
        f"judging-failed: {message}",
        None,
        {"http_status": status, "error": message, "body_excerpt": _excerpt(body)},
    )
