"""The expense page's free-text fields say their limit to the browser: a member who types a rejection
reason or a question longer than the workflow takes (``MAX_ACTION_TEXT``) is stopped while typing, instead
of losing the text to an error page in English after sending it (found walking the demo's pages)."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
from conftest import Site

from gateway.services.expenses import MAX_ACTION_TEXT


def test_the_reason_and_the_question_carry_the_workflows_limit(
    site: Site, login: Callable[[str], httpx.Client]
) -> None:
    shown = login("mia").get(f"/web/expenses/{site.routed_expense}")
    assert shown.status_code == 200
    assert "status-to_approve" in shown.text  # the module's own site: nobody decided it yet
    fields = dict(re.findall(r'<textarea id="([a-z-]+)"[^>]*?maxlength="(\d+)"', shown.text))
    assert fields.get("reason") == str(MAX_ACTION_TEXT)
    assert fields.get("question") == str(MAX_ACTION_TEXT)
