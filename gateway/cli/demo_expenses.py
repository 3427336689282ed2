"""The expense side of ``gateway demo``: production units are loaded before the samples travel, every
received document lands as an expense draft, and support and a unit approve, reject, query and pay a few;
then the expense board is printed."""

from __future__ import annotations

from typing import Any

import httpx

DEMO_UNITS = [
    {"code": "PU-04711", "name": "Schrijnwerkerij De Eik"},
    {"code": "PU-00123", "name": "Bakkerij Het Graan"},
]


def load_units(client: httpx.Client) -> None:
    """Create the demo's production units (admin API)."""
    client.put("/v1/units", json=DEMO_UNITS).raise_for_status()


def _act(client: httpx.Client, expense: dict[str, Any], action: str, body: Any = None) -> bool:
    response = client.post(f"{expense['url']}/{action}", json=body)
    return response.status_code == 200


def play_and_print_board(client: httpx.Client, received_valid: int) -> bool:
    """Triage, approve, reject, query and pay some drafts; print the board.

    Returns:
        True when every valid received document has its expense and every action was accepted.
    """
    expenses = client.get("/v1/expenses", params={"limit": 500}).json()["items"]
    ok = len(expenses) == received_valid
    steps: list[tuple[str, Any]] = [
        ("approve", None),
        ("reject", {"reason": "Price differs from the quotation", "reason_codes": ["PRI"]}),
        ("query", {"question": "Which order does this invoice belong to?", "reason_codes": ["REF"]}),
    ]
    triaged = [e for e in reversed(expenses) if e["status"] == "to_triage" and e["kind"] == "invoice"]
    for n, expense in enumerate(triaged[: len(steps)]):
        unit = DEMO_UNITS[n % len(DEMO_UNITS)]["code"]
        ok &= _act(client, expense, "assign", {"unit": unit, "remember_supplier": False})
        action, body = steps[n]
        ok &= _act(client, expense, action, body)
        if action == "approve":
            ok &= _act(client, expense, "mark-paid")
    expenses = client.get("/v1/expenses", params={"limit": 500}).json()["items"]
    print(f"\n{'expense board':<18} {'number':<16} {'supplier':<34} {'amount':>12} {'unit':<9} status")
    for e in reversed(expenses):
        unit = e["unit"] or "-"
        flag = "  (credits an invoice)" if e["credited_expense_id"] else ""
        print(
            f"{e['kind']:<18} {e['number']:<16} {e['supplier_name'][:34]:<34} "
            f"{e['amount'] + ' ' + e['currency']:>12} {unit:<9} {e['status']}{flag}"
        )
    counts = client.get("/v1/expenses/board").json()["counts"]
    shown = ", ".join(f"{status} {n}" for status, n in counts.items() if n)
    print(f"demo: {len(expenses)} expense drafts from {received_valid} valid received documents: {shown}")
    return ok
