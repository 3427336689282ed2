"""The EPC QR code payload (EPC069-12 v3.0 §3.4) and its SVG image."""

from __future__ import annotations

import base64
from decimal import Decimal

import pytest

from gateway.render.epc_qr import MAX_PAYLOAD_BYTES, CreditTransfer, build_payload, qr_svg_data_uri
from gateway.render.extract import read_view
from gateway.render.html import RenderOptions, build_context
from tests.unit.render.support import sample, to_ubl

IBAN = "BE90 0010 7394 8432"


def test_payload_with_a_belgian_structured_communication() -> None:
    payload = build_payload(
        CreditTransfer(
            name="Coöperatie CV",
            iban=IBAN,
            amount=Decimal("1234.5"),
            reference="+++000/0471/10068+++",
            bic="GEBABEBB",
        )
    )
    assert payload == "\n".join(
        [
            "BCD",
            "002",
            "1",
            "SCT",
            "GEBABEBB",
            "Coöperatie CV",
            "BE90001073948432",
            "EUR1234.50",
            "",
            "",
            "+++000/0471/10068+++",
        ]
    )


def test_creditor_reference_goes_to_the_structured_field() -> None:
    payload = build_payload(
        CreditTransfer(name="X", iban=IBAN, amount=Decimal("10"), reference="RF18 5390 0754 7034")
    )
    assert payload is not None
    lines = payload.split("\n")
    assert lines[4] == ""  # no BIC: optional in version 002
    assert lines[9] == "RF18539007547034"
    assert len(lines) == 10  # trailing empty fields omitted


@pytest.mark.parametrize(
    "transfer",
    [
        CreditTransfer(name="X", iban="BE90 0010 7394 8433", amount=Decimal("10")),  # bad IBAN check digits
        CreditTransfer(name="X", iban=IBAN, amount=Decimal("0")),
        CreditTransfer(name="X", iban=IBAN, amount=Decimal("1000000000.00")),
        CreditTransfer(name="  ", iban=IBAN, amount=Decimal("10")),
    ],
)
def test_no_payload_that_a_bank_would_refuse(transfer: CreditTransfer) -> None:
    assert build_payload(transfer) is None


def test_long_fields_are_cut_to_the_limits() -> None:
    payload = build_payload(
        CreditTransfer(name="N" * 100, iban=IBAN, amount=Decimal("1"), reference="r" * 200)
    )
    assert payload is not None
    lines = payload.split("\n")
    assert len(lines[5]) == 70
    assert len(lines[10]) == 140
    assert len(payload.encode()) <= MAX_PAYLOAD_BYTES


def test_svg_data_uri() -> None:
    uri = qr_svg_data_uri("BCD\n002\n1\nSCT\n\nX\nBE90001073948432\nEUR1.00")
    svg = base64.b64decode(uri.removeprefix("data:image/svg+xml;base64,"))
    assert svg.startswith(b"<svg")


def test_the_rendered_invoice_carries_the_qr_code_of_its_figures() -> None:
    view = read_view(to_ubl(sample()))
    context = build_context(view, RenderOptions())
    assert context["qr"].startswith("data:image/svg+xml;base64,")
    means, reference = context["payments"][0]
    assert reference.startswith("+++")
    assert means.account_iban is not None
    payable = view.totals.payable
    assert payable is not None
    assert payable.value is not None
    expected = build_payload(
        CreditTransfer(
            name=view.seller.name or "",
            iban=means.account_iban,
            amount=payable.value,
            reference=reference,
            bic=means.account_bic,
        )
    )
    assert expected is not None
    assert context["qr"] == qr_svg_data_uri(expected)


@pytest.mark.parametrize("amount", ["9" * 40, "1E+100000", "1E-999999", "0.004"])
def test_no_payload_for_an_amount_outside_the_range_whatever_its_digits(amount: str) -> None:
    assert build_payload(CreditTransfer(name="X", iban=IBAN, amount=Decimal(amount))) is None


def test_a_remittance_text_too_long_in_bytes_gives_no_code_rather_than_one_without_a_name() -> None:
    """140 three-byte characters cannot fit in 331 bytes: the name was emptied, the limit still exceeded."""
    transfer = CreditTransfer(name="ACME NV", iban=IBAN, amount=Decimal("10"), reference="€" * 140)
    assert build_payload(transfer) is None
