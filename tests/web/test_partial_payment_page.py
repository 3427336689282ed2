"""Paying an expense in part from its page, over HTTP: the mark-paid form's "paid partially" choice with its
explanation and amount reaches the Invoice Response (PD with PPD and the text), a bad entry is said on the
form itself (422, what was typed kept, in the page's language), a form without its CSRF token is refused,
and after a partial payment the page says the supplier hears nothing more and offers to record the rest."""

from __future__ import annotations

import html
import re
from collections.abc import Callable

import httpx
from conftest import Site, csrf_of

from tests.integration.expense_support import RecordingResponder, auth


def _responder(site: Site) -> RecordingResponder:
    responder = site.services.responder
    assert isinstance(responder, RecordingResponder)
    return responder


def _post(client: httpx.Client, path: str, action: str, **fields: str) -> httpx.Response:
    return client.post(f"{path}/{action}", data={"csrf_token": csrf_of(client, path), **fields})


def _amount(site: Site, expense_id: str) -> str:
    with httpx.Client(base_url=site.url) as client:
        answer = client.get(f"/v1/expenses/{expense_id}", headers=auth("support"))
    amount: str = answer.json()["amount"]
    return amount


def _actions(site: Site, expense_id: str) -> list[str]:
    """The actions of the expense's audit trail, as the API lists them."""
    with httpx.Client(base_url=site.url) as client:
        answer = client.get(f"/v1/expenses/{expense_id}", headers=auth("support"))
    return [event["action"] for event in answer.json()["events"]]


def test_support_pays_in_part_from_the_page_and_records_the_rest(
    site: Site, login: Callable[[str], httpx.Client]
) -> None:
    member, support = login("mia"), login("sam")
    path = f"/web/expenses/{site.routed_expense}"
    assert _post(member, path, "approve").status_code == 303
    form = support.get(path).text
    assert 'name="payment" value="partial"' in form
    assert 'id="paid-amount" name="paid_amount"' in form
    assert "/settle" not in form

    no_token = support.post(f"{path}/mark-paid", data={"payment": "partial", "reason": "x"})
    assert no_token.status_code == 403

    due = _amount(site, site.routed_expense)
    sent = len(_responder(site).requests)
    refused = _post(support, path, "mark-paid", payment="partial", reason="the rest later", paid_amount=due)
    assert refused.status_code == 422
    assert re.search(r'id="payment-error">The amount paid must be less than the amount due', refused.text)
    assert ">the rest later</textarea>" in refused.text  # what was typed stays in the form
    assert f'value="{due}"' in refused.text
    assert 'value="partial" checked' in refused.text
    missing = _post(support, path, "mark-paid", payment="partial", reason="  ", paid_amount="10")
    assert missing.status_code == 422
    assert "A partial payment needs an explanation for the supplier." in missing.text
    french = support.post(
        f"{path}/mark-paid",
        data={
            "csrf_token": csrf_of(support, path),
            "payment": "partial",
            "reason": "x",
            "paid_amount": "1,234",
        },
        headers={"Accept-Language": "fr-BE"},
    )
    assert french.status_code == 422
    assert "Le montant payé 1,234 n&#39;est pas un montant d&#39;au plus deux décimales." in french.text
    assert len(_responder(site).requests) == sent  # nothing was sent for a refused form
    assert "status-approved" in support.get(path).text

    paid = _post(
        support,
        path,
        "mark-paid",
        payment="partial",
        reason="the rest after the credit note",
        paid_amount="10,50",
    )
    assert paid.status_code == 303, paid.text
    shown = support.get(paid.headers["location"]).text
    assert "Marked as paid." in shown
    assert "The supplier is told through Peppol (Invoice Response PD)." in shown
    assert "Paid partially. The supplier was told through Peppol" in shown
    last = _responder(site).requests[-1]
    assert (last.status, last.reason_codes) == ("PD", ("PPD",))
    assert last.note is not None
    assert last.note.startswith("Paid 10.50 of ")
    assert last.note.endswith(": the rest after the credit note")
    assert "partial: True; paid_amount: 10.50" in html.unescape(shown)  # the audit trail
    assert "/mark-paid" not in shown
    assert "/settle" in shown
    assert "/settle" not in member.get(path).text  # as for paying: support records it

    settled = _post(support, path, "settle")
    assert settled.status_code == 303, settled.text
    after = support.get(settled.headers["location"]).text
    assert "The rest of the payment is recorded. The supplier is not told" in after
    assert "/settle" not in after
    assert "Paid partially. The supplier was told" not in after
    assert len(_responder(site).requests) == sent + 1  # the PD only
    assert 'id="mark-paid"' not in after  # the form is gone once paid

    # The payment form sent again (the browser's retry, a back-and-resend) is a repeat after the settle too:
    # the page as it stands, nothing recorded or sent; another payment is a conflict.
    trail = _actions(site, site.routed_expense)
    assert trail[-2:] == ["mark-paid", "settle"]
    resent = _post(
        support,
        path,
        "mark-paid",
        payment="partial",
        reason="the rest after the credit note",
        paid_amount="10,50",
    )
    assert resent.status_code == 303, resent.text
    shown = support.get(resent.headers["location"]).text
    assert "Marked as paid." in shown
    assert "The supplier is told" not in shown  # the last action is the settle: its PD is not said again
    assert _actions(site, site.routed_expense) == trail
    other = _post(support, path, "mark-paid", payment="partial", reason="the rest after the credit note")
    assert other.status_code == 409
    assert _post(support, path, "mark-paid", payment="full").status_code == 409
    assert len(_responder(site).requests) == sent + 1


def test_the_form_in_dutch_and_a_full_payment_with_a_stray_text_is_refused_in_place(
    site: Site, login: Callable[[str], httpx.Client]
) -> None:
    support, member = login("sam"), login("mia")
    path = f"/web/expenses/{site.triage_expense}"
    if "status-to_triage" in support.get(path).text:
        assert _post(support, path, "assign", unit="PU-04711").status_code == 303
    if "status-to_approve" in member.get(path).text:
        assert _post(member, path, "approve").status_code == 303
    dutch = support.get(path, headers={"Accept-Language": "nl-BE"}).text
    assert "Gedeeltelijk betaald" in dutch
    assert "Betaald bedrag in EUR (optioneel, minder dan" in dutch
    stray = _post(support, path, "mark-paid", payment="full", reason="only half")
    assert stray.status_code == 422
    assert "An explanation or an amount paid is for a partial payment: choose partially paid." in stray.text
    paid = _post(support, path, "mark-paid", payment="full")
    assert paid.status_code == 303
    shown = support.get(paid.headers["location"]).text
    assert (_responder(site).requests[-1].status, _responder(site).requests[-1].reason_codes) == ("PD", ())
    assert "/settle" not in shown
    assert "Paid partially" not in shown
    late = _post(support, path, "settle")
    assert late.status_code == 409  # a full payment has no rest to record
