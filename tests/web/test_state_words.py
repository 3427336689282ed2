"""The states, kinds and roles the pages show are words of the person's language, never the values of the
code (``to_approve``, ``credit-note``, ``member``): found walking the demo's pages in French and Dutch
(expense badges and status filter, outbound and inbound badges, the header's role). The badge's class keeps
the value."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
import pytest
from conftest import Site


def _badges(text: str) -> dict[str, str]:
    """Each badge's state value (its class) -> the words it shows."""
    return dict(re.findall(r'class="status status-([a-z_]+)">([^<]*)<', text))


@pytest.mark.parametrize(
    ("language", "to_approve", "to_triage", "member"),
    [
        ("en", "to approve", "to triage", "member"),
        ("fr", "à approuver", "à trier", "membre"),
        ("nl", "goed te keuren", "te sorteren", "lid"),
    ],
)
def test_expense_states_and_the_role_are_words_of_the_page_language(
    site: Site,
    login: Callable[[str], httpx.Client],
    language: str,
    to_approve: str,
    to_triage: str,
    member: str,
) -> None:
    headers = {"Accept-Language": language}
    mia = login("mia")
    listed = mia.get("/web/expenses", headers=headers)
    assert listed.status_code == 200
    assert _badges(listed.text).get("to_approve") == to_approve
    assert f'<option value="to_approve" selected>{to_approve}</option>' in listed.text
    assert '<option value="under_query" >' in listed.text
    assert ">to_approve<" not in listed.text
    assert ">under_query<" not in listed.text
    colon = " :" if language == "fr" else ":"  # French typography: a space before the colon
    assert f"({member}{colon} PU04711)" in listed.text
    shown = mia.get(f"/web/expenses/{site.routed_expense}", headers=headers).text
    assert _badges(shown).get("to_approve") == to_approve or "status-to_approve" not in shown
    triage = login("sam").get("/web/triage", headers=headers).text
    assert _badges(triage).get("to_triage") == to_triage


@pytest.mark.parametrize(
    ("language", "failed", "valid", "invoice"),
    [
        ("en", "failed", "valid", "invoice"),
        ("fr", "échoué", "valide", "facture"),
        ("nl", "mislukt", "geldig", "factuur"),
    ],
)
def test_delivery_and_receipt_states_and_kinds_are_words_of_the_page_language(
    site: Site,
    login: Callable[[str], httpx.Client],
    language: str,
    failed: str,
    valid: str,
    invoice: str,
) -> None:
    headers = {"Accept-Language": language}
    sam = login("sam")
    listed = sam.get("/web/outbound", params={"status": "failed"}, headers=headers).text
    assert _badges(listed).get("failed") == failed
    assert f"<td>{invoice}</td>" in listed
    assert f'<option value="failed" selected>{failed}</option>' in listed
    shown = sam.get(f"/web/outbound/{site.failed_id}", headers=headers).text
    assert _badges(shown).get("failed") == failed
    assert f"<dd>{invoice}</dd>" in shown
    received = sam.get("/web/inbound", headers=headers).text
    assert _badges(received).get("valid") == valid


@pytest.mark.parametrize(
    ("language", "amount", "day"),
    [
        ("en", r"€[\d,]+\.\d\d", r"\d{1,2} [A-Z][a-z]{2} \d{4}"),
        ("fr", r"[\d\u202f ]+,\d\d\xa0€", r"\d{1,2} [a-zéû]+\.? \d{4}"),
        ("nl", r"€\xa0[\d.]+,\d\d", r"\d{1,2} [a-z]+\.? \d{4}"),
    ],
)
def test_expense_amounts_and_issue_dates_are_written_as_the_page_language_writes_them(
    site: Site, login: Callable[[str], httpx.Client], language: str, amount: str, day: str
) -> None:
    # The walk found "2808.14 EUR" and "2026-11-10" on the French and Dutch pages, beside dates in words.
    headers = {"Accept-Language": language}
    listed = login("sam").get("/web/expenses", params={"status": "any"}, headers=headers).text
    cells = re.findall(r"<td>([^<]*)</td>", listed)
    assert any(re.fullmatch(amount, cell) for cell in cells), cells
    assert any(re.fullmatch(day, cell) for cell in cells), cells
    assert not any(re.fullmatch(r"\d{4}-\d\d-\d\d|-?\d+\.\d\d [A-Z]{3}", cell) for cell in cells), cells
    shown = login("mia").get(f"/web/expenses/{site.routed_expense}", headers=headers).text
    facts = dict(re.findall(r"<dt>([^<]*)</dt><dd>([^<]*)</dd>", shown))
    assert any(re.fullmatch(amount, value) for value in facts.values()), facts
    assert any(re.fullmatch(day, value) for value in facts.values()), facts


@pytest.mark.parametrize(
    ("language", "failure", "routed"),
    [
        ("en", "failed for good", "routed"),
        ("fr", "échec définitif", "acheminée"),
        ("nl", "definitief mislukt", "doorgestuurd"),
    ],
)
def test_timeline_events_and_audit_actions_are_words_of_the_page_language(
    site: Site, login: Callable[[str], httpx.Client], language: str, failure: str, routed: str
) -> None:
    # The walk found "permanent-failure" and "route" in the French and Dutch timelines and audit trails.
    headers = {"Accept-Language": language}
    timeline = login("sam").get(f"/web/outbound/{site.failed_id}", headers=headers).text
    assert f"<td>{failure}</td>" in timeline
    assert "<td>permanent-failure</td>" not in timeline
    audit = login("mia").get(f"/web/expenses/{site.routed_expense}", headers=headers).text
    assert f"<td>{routed}</td>" in audit
    assert "<td>route</td>" not in audit
