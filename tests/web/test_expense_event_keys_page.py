"""The expense page's audit trail shows an action's detail without the Idempotency-Key the API client sent
with it (its own request token, not part of the expense's history; ``expense_keys.without_key``)."""

from __future__ import annotations

import html
from collections.abc import Callable

import httpx
from conftest import Site

from tests.integration.expense_support import auth


def test_a_keyed_query_shows_on_the_page_without_its_key(
    site: Site, login: Callable[[str], httpx.Client]
) -> None:
    headers = auth("member-a") | {"Idempotency-Key": "page-private-key-1"}
    with httpx.Client(base_url=site.url) as client:
        asked = client.post(
            f"/v1/expenses/{site.routed_expense}/query",
            json={"question": "Which delivery note is this?", "reason_codes": ["REF"]},
            headers=headers,
        )
    assert asked.status_code == 200, asked.text
    for person in ("mia", "sam"):  # a member of the unit (not the client), and support
        page = login(person).get(f"/web/expenses/{site.routed_expense}")
        assert page.status_code == 200
        text = html.unescape(page.text)
        assert "question: Which delivery note is this?" in text
        assert "page-private-key-1" not in text
        assert "idempotency" not in text
