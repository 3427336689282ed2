"""What a member's decision tells the supplier, on the expense page: the reason code picked on the reject
and query forms travels in the Invoice Response (RE, UQ), and the page says whether an Invoice Response
went at all - a supplier that does not receive them through Peppol hears nothing, and the member must
tell them another way (the page used to say "the supplier is told" whatever happened)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
from conftest import Site, csrf_of

from tests.integration.expense_support import RecordingResponder, auth


def _responder(site: Site) -> RecordingResponder:
    responder = site.services.responder
    assert isinstance(responder, RecordingResponder)
    return responder


def _act(client: httpx.Client, path: str, action: str, **fields: str) -> httpx.Response:
    return client.post(f"{path}/{action}", data={"csrf_token": csrf_of(client, path), **fields})


def test_the_reason_code_picked_on_the_reject_form_reaches_the_invoice_response(
    site: Site, login: Callable[[str], httpx.Client]
) -> None:
    member = login("mia")
    path = f"/web/expenses/{site.routed_expense}"
    form = member.get(path).text
    assert '<option value="PRI" >PRI – Prices are wrong</option>' in form
    assert re.search(r'<option value="OTH" selected>OTH – Other</option>', form)  # the default
    unknown = _act(member, path, "reject", reason="Too dear", reason_code="XYZ")
    assert unknown.status_code == 422, unknown.text
    assert "XYZ" in unknown.text
    assert "not OpenPeppol status reasons" in unknown.text
    answer = _act(member, path, "reject", reason="Not the quoted price", reason_code="PRI")
    assert answer.status_code == 303, answer.text
    shown = member.get(answer.headers["location"]).text
    last = _responder(site).requests[-1]
    assert (last.status, last.reason_codes, last.note) == ("RE", ("PRI",), "Not the quoted price")
    assert "The supplier is told through Peppol (Invoice Response RE)" in shown
    assert "yes: Invoice Response RE" in shown
    assert "/web/outbound/" not in shown  # a member cannot open the outbound pages: no link to them
    staff_view = login("sam").get(path).text
    link = r'yes: Invoice Response RE \(<a href="/web/outbound/response-\d+">its delivery</a>\)'
    assert re.search(link, staff_view)
    events = site_events(site, site.routed_expense)
    assert events[-1]["detail"]["reason_codes"] == ["PRI"]
    assert events[-1]["invoice_response"]["code"] == "RE"
    assert events[-1]["invoice_response"]["sent"] is True


def test_a_question_the_supplier_cannot_receive_is_said_on_the_page_and_in_the_api(
    site: Site, login: Callable[[str], httpx.Client]
) -> None:
    support, member = login("sam"), login("mia")
    path = f"/web/expenses/{site.triage_expense}"
    assert "yes: Invoice Response AB" not in support.get(path).text  # in triage: not acknowledged yet
    assigned = _act(support, path, "assign", unit="PU-04711")
    assert assigned.status_code == 303
    # Routed to a unit by support: the supplier gets its acknowledgement now, and the page says so.
    assert _responder(site).requests[-1].status == "AB"
    shown = support.get(assigned.headers["location"]).text
    assert "The supplier is told through Peppol (Invoice Response AB)" in shown
    assert "yes: Invoice Response AB" in shown
    _responder(site).silent.add("UQ")  # this supplier does not receive T111: nothing is queued
    try:
        answer = _act(member, path, "query", question="Which order is this for?", reason_code="REF")
    finally:
        _responder(site).silent.discard("UQ")
    assert answer.status_code == 303, answer.text
    shown = member.get(answer.headers["location"]).text
    assert "Question recorded" in shown
    assert "The supplier is not told through Peppol" in shown
    assert "told through Peppol (Invoice Response UQ)" not in shown
    assert "no: tell the supplier yourself" in shown
    assert _responder(site).requests[-1].reason_codes == ("REF",)
    event = site_events(site, site.triage_expense)[-1]
    assert event["action"] == "query"
    assert event["invoice_response"] == {"code": "UQ", "sent": False, "document_id": None}
    french = member.get(path, headers={"Accept-Language": "fr-BE"}).text
    assert "non : prévenez le fournisseur vous-même" in french


def site_events(site: Site, expense_id: str) -> list[dict[str, Any]]:
    """The expense's audit trail as the API gives it."""
    with httpx.Client(base_url=site.url) as client:
        answer = client.get(f"/v1/expenses/{expense_id}", headers=auth("support"))
    assert answer.status_code == 200, answer.text
    events: list[dict[str, Any]] = answer.json()["events"]
    return events


def test_the_answer_said_after_an_action_is_that_actions_own(
    site: Site, login: Callable[[str], httpx.Client]
) -> None:
    """The notice under "Approved." is about the approval: an address naming another action than the
    expense's latest one (a forged link, or someone else acting meanwhile) says nothing of the supplier."""
    member = login("mia")
    path = f"/web/expenses/{site.routed_expense}"
    if "status-to_approve" in member.get(path).text:
        assert _act(member, path, "reject", reason="Not ours", reason_code="REF").status_code == 303
    assert site_events(site, site.routed_expense)[-1]["action"] == "reject"
    shown = member.get(path, params={"done": "approve"}).text
    assert "The supplier is told through Peppol" not in shown
    assert "The supplier is not told through Peppol" not in shown
    assert (
        "The supplier is told through Peppol (Invoice Response RE)"
        in member.get(path, params={"done": "reject"}).text
    )
