"""The answers of ``gateway demo``: Invoice Responses (T111) and Message Level Status (MLS) travel back over
AS4 and are attached to the documents they answer.

* The cooperative answers each supplier document with T111 (AB on receipt, then AP, RE, UQ, PD as the
  members and support act) and an MLS; the partner AP attaches them to the documents it sent.
* The partner AP answers what the cooperative sent (its invoices and credit notes, and each T111) with an
  MLS; the cooperative's documents turn from ``delivered`` into ``confirmed``.
* Every T111 and MLS was validated by its emitter before sending (a refused one is stored ``failed``, never
  sent) and again by its receiver with the official rules (XSD + T111 or MLS Schematron): the demo counts
  both and the fatal findings (must be zero).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx

_VERBS = {"AB": "acknowledged", "AP": "accepted", "RE": "rejected", "UQ": "under query", "PD": "paid"}
#: How far in the buyer's process each T111 code is (bis-billing.md §9). AS4 does not keep the order of
#: messages (AP and PD, queued a moment apart, may arrive either way), so the buyer's latest answer is the
#: furthest one, not the last received.
_STAGE = {"AB": 0, "IP": 1, "UQ": 2, "CA": 3, "RE": 4, "AP": 4, "PD": 5}
#: Outbound statuses no MLS will ever answer: failed, or e-mailed to a buyer outside Peppol.
_NO_MLS = ("failed", "delivered_by_email")


def _kind_of(document_type: str) -> str | None:
    """``invoice-response`` or ``mls`` for a received ApplicationResponse's document type, else None."""
    if "ApplicationResponse" not in document_type:
        return None
    if "invoice_response" in document_type:
        return "invoice-response"
    return "mls" if ":mls" in document_type else None


@dataclass
class ResponseCount:
    """What one AP emitted and what the other received, of one kind of answer."""

    sent: int = 0
    not_sent: int = 0  # refused by the emitter's validation, or failed delivery
    received_valid: int = 0
    received_invalid: int = 0
    fatal: int = 0


def _outbound(api: httpx.Client) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = api.get("/v1/outbound", params={"limit": 500}).json()["items"]
    return items


def _inbound(api: httpx.Client) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = api.get("/v1/inbound", params={"limit": 500}).json()["items"]
    return items


def _answers(detail: dict[str, Any]) -> tuple[str | None, list[dict[str, Any]]]:
    """(MLS code, the buyer responses' timeline details in order) of an outbound document's detail."""
    mls = None
    responses = []
    for entry in detail.get("timeline", []):
        data = entry.get("detail") or {}
        if entry["event"] in ("mls-accepted", "mls-rejected"):
            mls = data.get("mls_code")
        elif entry["event"] == "response-received":
            responses.append(data)
    return mls, responses


def _describe(response: dict[str, Any]) -> str:
    code = str(response.get("response_code"))
    codes = [*response.get("reasons", []), *response.get("actions", [])]
    note = response.get("note")
    return (
        f"{_VERBS.get(code, code)} by buyer"
        + (f" ({', '.join(codes)})" if codes else "")
        + (f": {note}" if note else "")
    )


def _settled(
    coop: httpx.Client, partner: httpx.Client, partner_ids: dict[str, str], expected: dict[str, list[str]]
) -> tuple[bool, dict[str, dict[str, Any]]]:
    """Whether every answer arrived: the partner's documents carry MLS and every expected T111, and every
    document the cooperative sent (invoices, credit notes, T111) is confirmed by the partner's MLS."""
    details = {number: partner.get(f"/v1/outbound/{doc_id}").json() for number, doc_id in partner_ids.items()}
    for number, detail in details.items():
        mls, responses = _answers(detail)
        codes = sorted(str(r.get("response_code")) for r in responses)
        if mls is None or codes != sorted(expected.get(number, [])):
            return False, details
    pending = [
        d
        for d in _outbound(coop)
        if d["kind"] != "mls" and d["status"] not in ("confirmed", "rejected", *_NO_MLS)
    ]
    sent_mls = [d for ap in (coop, partner) for d in _outbound(ap) if d["kind"] == "mls"]
    return not pending and all(d["status"] in ("delivered", "failed") for d in sent_mls), details


def _count(emitter: list[dict[str, Any]], receiver: httpx.Client, kind: str) -> ResponseCount:
    count = ResponseCount()
    for document in emitter:
        if document["kind"] != kind:
            continue
        if document["status"] in ("delivered", "confirmed", "rejected"):
            count.sent += 1
        else:
            count.not_sent += 1
    for item in _inbound(receiver):
        if _kind_of(item["document_type"]) != kind:
            continue
        report = receiver.get(item["url"]).json().get("report") or {}
        count.fatal += sum(1 for issue in report.get("issues", []) if issue.get("severity") == "fatal")
        if item["status"] == "valid":
            count.received_valid += 1
        else:
            count.received_invalid += 1
    return count


def _confirmed_back(coop: httpx.Client, expected_t111: int) -> bool:
    """Every business document and Invoice Response the cooperative sent is final: confirmed by MLS (or
    failed, or e-mailed outside Peppol), none still waiting for its MLS."""
    sent = _outbound(coop)
    business = [
        d for d in sent if d["kind"] in ("invoice", "credit-note", "ubl") and d["status"] not in _NO_MLS
    ]
    answers = [d for d in sent if d["kind"] == "invoice-response"]
    return (
        all(d["status"] == "confirmed" for d in business)
        and len(answers) == expected_t111
        and all(d["status"] == "confirmed" for d in answers)
    )


def show_responses(
    coop: httpx.Client,
    partner: httpx.Client,
    partner_ids: dict[str, str],
    expected: dict[str, list[str]],
    timeout: float,
) -> bool:
    """Wait for the answers both ways, print the partner's view and the counts.

    Args:
        coop / partner: the two APs' APIs.
        partner_ids: number -> outbound document id of what the partner sent for its suppliers.
        expected: number -> the T111 codes it must get back, in order.
        timeout: seconds to wait for the answers.

    Returns:
        True when every expected answer arrived, was attached to its document, and every T111 and MLS
        either AP emitted was sent and received valid, with no fatal finding.
    """
    deadline = time.monotonic() + timeout
    expected_t111 = sum(len(codes) for codes in expected.values())
    settled, details = _settled(coop, partner, partner_ids, expected)
    # Wait for both directions: the partner's view of the supplier documents, and the MLS the partner AP
    # sends back for everything the cooperative sent (it may still be in flight when the first is settled).
    while not (settled and _confirmed_back(coop, expected_t111)) and time.monotonic() < deadline:
        time.sleep(0.5)
        settled, details = _settled(coop, partner, partner_ids, expected)
    ok = settled
    print("\nthe partner AP's view of what it sent for its suppliers (status, MLS, last buyer response):")
    for number, detail in details.items():
        mls, responses = _answers(detail)
        outcome = {"AP": "confirmed by MLS", "AB": "acknowledged by MLS", "RE": "rejected by MLS"}
        mls_text = outcome.get(mls or "", "no MLS yet")
        responses.sort(key=lambda r: _STAGE.get(str(r.get("response_code")), 0))
        last = _describe(responses[-1]) if responses else "no buyer response yet"
        codes = ", ".join(str(r.get("response_code")) for r in responses) or "-"
        print(f"  {number:<16} {detail['status']:<10} delivered, {mls_text}, {last}  [T111 {codes}]")
    coop_sent, partner_sent = _outbound(coop), _outbound(partner)
    business = [d for d in coop_sent if d["kind"] in ("invoice", "credit-note", "ubl")]
    confirmed = sum(1 for d in business if d["status"] == "confirmed")
    delivered = sum(1 for d in business if d["status"] not in _NO_MLS)
    answers = [d for d in coop_sent if d["kind"] == "invoice-response"]
    answers_confirmed = sum(1 for d in answers if d["status"] == "confirmed")
    print(
        f"demo: MLS back to the cooperative: {confirmed} of its {delivered} delivered invoices and credit "
        f"notes and {answers_confirmed} of its {len(answers)} Invoice Responses confirmed by the partner AP"
    )
    counts = {
        ("T111", "cooperative -> partner AP"): _count(coop_sent, partner, "invoice-response"),
        ("MLS", "cooperative -> partner AP"): _count(coop_sent, partner, "mls"),
        ("MLS", "partner AP -> cooperative"): _count(partner_sent, coop, "mls"),
    }
    t111_answers = counts[("T111", "cooperative -> partner AP")]
    expected_mls = {
        "cooperative -> partner AP": len(partner_ids),
        "partner AP -> cooperative": delivered + t111_answers.sent,
    }
    ok &= confirmed == delivered and answers_confirmed == len(answers) == expected_t111
    for (what, way), count in counts.items():
        want = expected_t111 if what == "T111" else expected_mls[way]
        print(
            f"demo: {what:<4} {way}: {count.sent} sent (of {want} expected; {count.not_sent} not sent), "
            f"{count.received_valid} received valid, {count.received_invalid} invalid, {count.fatal} fatal"
        )
        ok &= (
            count.sent == want == count.received_valid
            and count.not_sent == 0
            and count.received_invalid == 0
            and count.fatal == 0
        )
    return ok
