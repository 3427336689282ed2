"""The supplier side of ``gateway demo``: the documents the partner AP sends to the cooperative for its
suppliers, and where each must land in the cooperative's expense workflow.

The documents are built from two samples (a Belgian invoice with mixed rates and a credit note) with the
parties swapped: a supplier sells, the cooperative buys. Each names its production unit the way suppliers
really do (bis-billing.md §8): a buyer reference (BT-10) in a loose spelling, an order reference (BT-13)
that the unit issued, or a code of no unit at all (triage).

The partner AP is a gateway too, which sends in its one seller's name only (``GATEWAY_SELLER_ID``: a BT-34
naming another company is refused), so every document is sold by that one supplier.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Supplier:
    """A supplier served by the partner AP (published in the SMP with the T111 document type)."""

    participant: str
    name: str
    iban: str
    postal_code: str
    city: str

    @property
    def enterprise_number(self) -> str:
        return self.participant.split(":")[1]


#: The partner AP's suppliers; the first is its seller (``demo_network``), the only one it sends for.
SUPPLIERS = (
    Supplier("0208:0412345614", "Bouwbedrijf Vandenberghe NV", "BE68 5390 0754 7034", "9000", "Gent"),
)


@dataclass(frozen=True)
class SupplierDocument:
    """One document the partner AP sends, with the unit it must land in (None: triage)."""

    number: str
    supplier: Supplier
    kind: str
    body: bytes
    expected_unit: str | None
    why: str


#: (number, supplier, BT-10 buyer reference, BT-13 order reference, expected unit key, why).
_INVOICES = (
    ("SUP-2026-0001", 0, "pu 04711", None, "PU04711", "BT-10 'pu 04711'"),
    ("SUP-2026-0002", 0, "Bakkerij PU00123 - week 45", None, "PU00123", "BT-10 with text around the code"),
    ("SUP-2026-0003", 0, "Werf Aalst", "PU-04711/BST-2026-045", "PU04711", "BT-13 order of the unit"),
    ("SUP-2026-0004", 0, "PU-09999", None, None, "BT-10 names no known unit"),
)
#: The credit note: number, supplier, the invoice it credits (BT-25), buyer reference, expected unit.
CREDIT_NOTE = ("SUP-2026-C-0001", 0, "SUP-2026-0003", "PU 04711", "PU04711")


def _parties(data: dict[str, Any], supplier: Supplier) -> None:
    """Swap a sample's parties: the supplier sells, the cooperative (the sample's seller) buys."""
    cooperative = data["seller"]
    data["seller"] = {
        "legal_name": supplier.name,
        "enterprise_number": supplier.enterprise_number,
        "vat_number": f"BE{supplier.enterprise_number}",
        "address": {
            "street": "Nijverheidslaan 3",
            "city": supplier.city,
            "postal_code": supplier.postal_code,
            "country": "BE",
        },
        "iban": supplier.iban,
    }
    data["buyer"] = {
        k: v
        for k, v in cooperative.items()
        if k in ("legal_name", "enterprise_number", "vat_number", "address")
    }
    for key in ("sales_order_reference", "contract_reference", "project_reference", "notes"):
        data.pop(key, None)


def supplier_documents(samples: list[Path]) -> list[SupplierDocument]:
    """The partner AP's invoices (several units, one unroutable) and then the credit note."""
    by_name = {p.name: p for p in samples}
    invoice_sample = by_name.get("be-domestic-mixed-rates.json")
    credit_sample = by_name.get("credit-note.json")
    if invoice_sample is None or credit_sample is None:
        return []
    out = []
    for number, n, buyer_reference, order_reference, unit, why in _INVOICES:
        data = json.loads(invoice_sample.read_bytes())
        _parties(data, SUPPLIERS[n])
        data.update(number=number, buyer_reference=buyer_reference)
        data.pop("purchase_order_reference", None)
        if order_reference is not None:
            data["purchase_order_reference"] = order_reference
        body = json.dumps(data).encode()
        out.append(SupplierDocument(number, SUPPLIERS[n], "invoice", body, unit, why))
    number, n, credited, buyer_reference, unit = CREDIT_NOTE
    data = json.loads(credit_sample.read_bytes())
    _parties(data, SUPPLIERS[n])
    issued = json.loads(invoice_sample.read_bytes())["issue_date"]
    data.update(
        number=number,
        buyer_reference=buyer_reference,
        preceding_invoices=[{"number": credited, "issue_date": issued}],
        notes=["Creditnota: prijscorrectie volgens offerte"],
    )
    body = json.dumps(data).encode()
    out.append(SupplierDocument(number, SUPPLIERS[n], "credit_note", body, unit, f"BT-25 credits {credited}"))
    return out
