"""The expense side of ``gateway demo``: production units are loaded before the documents travel; every
supplier document the cooperative received lands as an expense draft in its unit (or in triage, with the
reason); unit members (API keys scoped to their unit) approve, reject and query, support marks one paid;
then the expense board is printed."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from typing import Any

import httpx

from gateway.cli.demo_suppliers import SupplierDocument

DEMO_UNITS = [
    {"code": "PU-04711", "name": "Schrijnwerkerij De Eik", "members": ["member-pu04711"]},
    {"code": "PU-00123", "name": "Bakkerij Het Graan", "members": ["member-pu00123"]},
]
#: Invoice Response statuses the cooperative sends in the demo: AB (once routed to a unit) and the four
#: workflow answers (GATEWAY_RESPONSES__INVOICE_RESPONSE_STATUSES; the default).
RESPONSE_STATUSES = ["AB", "AP", "RE", "UQ", "PD"]


def _key() -> str:
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class DemoKeys:
    """The API keys of the demo: admin (set-up, sending), support, and one member key per unit."""

    admin: str = field(default_factory=_key)
    support: str = field(default_factory=_key)
    members: dict[str, str] = field(default_factory=lambda: {str(u["code"]): _key() for u in DEMO_UNITS})

    def config(self) -> str:
        """``GATEWAY_API__KEYS``: the member keys carry their unit (``units``)."""
        keys: list[dict[str, Any]] = [
            {"name": "demo", "role": "admin", "key": self.admin},
            {"name": "support", "role": "support", "key": self.support},
        ]
        for unit in DEMO_UNITS:
            code = str(unit["code"])
            name = f"member-{code.replace('-', '').lower()}"
            keys.append({"name": name, "role": "member", "key": self.members[code], "units": [code]})
        return json.dumps(keys)


#: What the demo does: (who, action, number, body, expected status, T111 code it sends).
PLAY: list[tuple[str, str, str, dict[str, Any] | None, str, str]] = [
    ("PU-04711", "approve", "SUP-2026-0001", None, "approved", "AP"),
    ("support", "mark-paid", "SUP-2026-0001", None, "paid", "PD"),
    (
        "PU-04711",
        "reject",
        "SUP-2026-0003",
        {"reason": "price differs from the quotation", "reason_codes": ["PRI"]},
        "rejected",
        "RE",
    ),
    (
        "PU-00123",
        "query",
        "SUP-2026-0002",
        {"question": "Which order of ours does this delivery belong to?", "reason_codes": ["REF"]},
        "under_query",
        "UQ",
    ),
]


def expected_responses(documents: list[SupplierDocument]) -> dict[str, list[str]]:
    """The T111 codes each supplier document must get back, in order (AB when routed to a unit on receipt,
    then the play; one left in triage gets none: the demo assigns none)."""
    acknowledged = "AB" in RESPONSE_STATUSES
    expected = {d.number: ["AB"] if acknowledged and d.expected_unit else [] for d in documents}
    for _who, _action, number, _body, _status, code in PLAY:
        if number in expected and code in RESPONSE_STATUSES:
            expected[number].append(code)
    return expected


def load_units(client: httpx.Client) -> None:
    """Create the demo's production units (admin API)."""
    client.put("/v1/units", json=DEMO_UNITS).raise_for_status()


def _landing(support: httpx.Client, documents: list[SupplierDocument]) -> tuple[dict[str, Any], bool]:
    """Print where each supplier document landed; (expenses by number, all as expected)."""
    items = support.get("/v1/expenses", params={"limit": 200}).json()["items"]
    by_number = {e["number"]: e for e in items}
    ok = True
    print(f"\n{'received from suppliers':<24} {'supplier':<28} {'landed in':<9} why")
    for doc in documents:
        expense = by_number.get(doc.number)
        if expense is None:
            ok = False
            print(f"  {doc.number:<22} {doc.supplier.name[:28]:<28} {'MISSING':<9} no expense draft")
            continue
        detail = support.get(expense["url"]).json()
        routing = detail.get("routing") or {}
        landed = expense["unit"] or "triage"
        ok &= expense["unit"] == doc.expected_unit
        if expense["unit"] is None:
            why = f"{routing.get('reason') or expense.get('status_reason')}"
        else:
            why = f"rule {routing.get('rule')}: {routing.get('reason')}"
        if expense["credited_expense_id"]:
            credited = next((e["number"] for e in items if e["id"] == expense["credited_expense_id"]), "?")
            why += f"; credits {credited} (BT-25)"
        print(f"  {doc.number:<22} {doc.supplier.name[:28]:<28} {landed:<9} {why}")
    return by_number, ok


def play_and_print_board(admin: httpx.Client, keys: DemoKeys, documents: list[SupplierDocument]) -> bool:
    """Check where the drafts landed, play the workflow as members and support, print the board.

    Returns:
        True when every document landed as expected, every action was accepted with the expected status
        and a member was refused another unit's expense.
    """
    headers = {"Authorization": f"Bearer {keys.support}"}
    with httpx.Client(base_url=admin.base_url, headers=headers, timeout=60) as support:
        by_number, ok = _landing(support, documents)
        print("\nexpense workflow (members act with keys scoped to their unit; support marks paid):")
        for who, action, number, body, expected, code in PLAY:
            key = keys.support if who == "support" else keys.members[who]
            name = "support" if who == "support" else f"member of {who}"
            expense = by_number.get(number)
            if expense is None:
                ok = False
                continue
            response = support.post(
                f"{expense['url']}/{action}", json=body, headers=_acting(key, action, number)
            )
            status = response.json().get("status") if response.status_code == 200 else response.status_code
            ok &= status == expected
            print(f"  {name:<20} {action:<10} {number:<16} -> {status} (Invoice Response {code} queued)")
        # A member acts only on its own unit's expenses: PU-00123's key cannot approve PU-04711's credit note
        # (waiting for approval, so only the unit scope can refuse it).
        other = by_number.get("SUP-2026-C-0001")
        if other is not None:
            refused = support.post(
                f"{other['url']}/approve", headers={"Authorization": f"Bearer {keys.members['PU-00123']}"}
            )
            ok &= refused.status_code in (403, 404)
            print(
                f"  {'member of PU-00123':<20} {'approve':<10} {other['number']:<16} -> refused "
                f"{refused.status_code} (not its unit: {refused.json().get('title')})"
            )
        ok &= _retried_after_a_later_action(support, keys, by_number)
        ok &= _member_search(support, keys, by_number)
        _print_board(support)
    return ok


def _acting(key: str, action: str, number: str) -> dict[str, str]:
    """A member's or support's headers for ``action`` on ``number``: its API key, and an Idempotency-Key
    naming the request, so that a client retrying it after losing the answer gets the current state."""
    return {"Authorization": f"Bearer {key}", "Idempotency-Key": f"demo-{action}-{number}"}


def _retried_after_a_later_action(support: httpx.Client, keys: DemoKeys, by_number: dict[str, Any]) -> bool:
    """PU-04711's approval of SUP-2026-0001 sent again with its Idempotency-Key after support marked the
    expense paid: the current state (paid), nothing recorded or sent (without the key: 409)."""
    expense = by_number.get("SUP-2026-0001")
    if expense is None:
        return False
    again = support.post(
        f"{expense['url']}/approve", headers=_acting(keys.members["PU-04711"], "approve", "SUP-2026-0001")
    )
    status = again.json().get("status") if again.status_code == 200 else again.status_code
    print(
        f"  {'member of PU-04711':<20} {'approve':<10} {'SUP-2026-0001':<16} -> {status} "
        "(retried with its Idempotency-Key after the payment: nothing sent)"
    )
    return status == "paid"


def _member_search(support: httpx.Client, keys: DemoKeys, by_number: dict[str, Any]) -> bool:
    """A member of PU-04711 finds its unit's expenses by the start of a supplier's number, in any case
    (``GET /v1/expenses?number=sup-2026-*``), and no other unit's (the unit of SUP-2026-0001, as listed)."""
    expense = by_number.get("SUP-2026-0001")
    if expense is None:
        return False
    member = {"Authorization": f"Bearer {keys.members['PU-04711']}"}
    found = support.get("/v1/expenses", params={"number": "sup-2026-*"}, headers=member).json()["items"]
    units = {item["unit"] for item in found}
    print(
        f"demo: a member of PU-04711 searches its expenses for 'sup-2026-*': {len(found)} found, "
        f"units {sorted(units)}"
    )
    return bool(found) and units == {expense["unit"]}


def _print_board(support: httpx.Client) -> None:
    expenses = support.get("/v1/expenses", params={"limit": 200}).json()["items"]
    print(f"\n{'expense board':<12} {'number':<16} {'supplier':<28} {'amount':>13} {'unit':<8} status")
    for e in reversed(expenses):
        reason = f" ({e['status_reason']})" if e["status_reason"] else ""
        if e.get("first_response_due"):  # in triage: the supplier's AB waits for a unit (3 working days)
            reason += f", first response due by {e['first_response_due']}"
        print(
            f"{e['kind']:<12} {e['number']:<16} {e['supplier_name'][:28]:<28} "
            f"{e['amount'] + ' ' + e['currency']:>13} {e['unit'] or '-':<8} {e['status']}{reason}"
        )
    counts = support.get("/v1/expenses/board").json()["counts"]
    shown = ", ".join(f"{status} {n}" for status, n in counts.items() if n)
    print(f"demo: {len(expenses)} expense drafts: {shown}")
