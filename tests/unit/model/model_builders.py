"""Builders for invoice-model tests: a minimal valid cooperative invoice, changed per test with keywords."""

from __future__ import annotations

from typing import Any

from gateway.model import CreditNote, Invoice

SELLER: dict[str, Any] = {
    "legal_name": "Samenwerking CV",
    "enterprise_number": "0739484052",
    "vat_number": "BE0739484052",
    "address": {"street": "Kunstlaan 12", "city": "Brussel", "postal_code": "1000", "country": "BE"},
    "iban": "BE90001073948432",
}
BUYER: dict[str, Any] = {
    "legal_name": "Klant NV",
    "enterprise_number": "0412345614",
    "vat_number": "BE0412345614",
    "address": {"city": "Gent", "country": "BE"},
}


def line(
    line_id: str = "1",
    *,
    qty: str = "1",
    price: str = "100.00",
    category: str = "S",
    rate: str | None = "21",
    **extra: Any,
) -> dict[str, Any]:
    """One invoice line as JSON-like data."""
    vat: dict[str, Any] = {"category": category}
    if rate is not None:
        vat["rate"] = rate
    data: dict[str, Any] = {
        "id": line_id,
        "quantity": qty,
        "unit_code": "C62",
        "price": {"net_amount": price},
        "vat": vat,
        "item": {"name": f"item {line_id}"},
    }
    data.update(extra)
    return data


def invoice_data(**changes: Any) -> dict[str, Any]:
    """A valid invoice as JSON-like data; keyword arguments replace top-level fields."""
    data: dict[str, Any] = {
        "kind": "invoice",
        "number": "2026-0004711",
        "issue_date": "2026-11-02",
        "currency": "EUR",
        "buyer_reference": "PO-1",
        "seller": dict(SELLER),
        "buyer": dict(BUYER),
        "lines": [line()],
    }
    data.update(changes)
    return data


def make_invoice(**changes: Any) -> Invoice:
    """A validated Invoice model."""
    return Invoice.model_validate(invoice_data(**changes))


def make_credit_note(**changes: Any) -> CreditNote:
    """A validated CreditNote model referencing an invoice."""
    data = invoice_data(
        kind="credit_note", number="2026-C-1", preceding_invoices=[{"number": "2026-0004711"}]
    )
    data.update(changes)
    return CreditNote.model_validate(data)
