"""Hypothesis: any valid model document survives model -> UBL -> model unchanged, and the writer is
deterministic. Generated documents are general (any seller, any category) like incoming invoices."""

from __future__ import annotations

import base64
import datetime as dt
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.model import CreditNote, Invoice, fill_amounts
from gateway.ubl import read_ubl, write_ubl

# No control characters and no whitespace but the blank: XML normalises CR and attribute whitespace.
_ALPHABET = st.sampled_from(
    list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -./&<>'\"éàçøß€")
)
text = st.text(_ALPHABET, min_size=1, max_size=12).map(str.strip).filter(lambda s: bool(s) and s != "NA")
code = st.text(st.sampled_from(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")), min_size=1, max_size=6)
country = st.sampled_from(["BE", "NL", "DE", "FR", "US", "CH", "NO"])
amount = st.decimals(min_value=-9999, max_value=9999, places=2)
positive_amount = st.decimals(min_value=0, max_value=9999, places=2)
dates = st.dates(min_value=dt.date(2020, 1, 1), max_value=dt.date(2030, 12, 31))


def optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


def _drop_none(**fields: Any) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


identifier = st.builds(_drop_none, value=text, scheme=optional(code))
address = st.builds(
    _drop_none,
    street=optional(text),
    additional_street=optional(text),
    address_line=optional(text),
    city=optional(text),
    postal_code=optional(text),
    subdivision=optional(text),
    country=country,
)
contact = st.builds(_drop_none, name=optional(text), telephone=optional(text), email=optional(text)).filter(
    bool
)
party = st.builds(
    _drop_none,
    legal_name=text,
    trading_name=optional(text),
    identifiers=st.lists(identifier, max_size=2),
    legal_registration_id=optional(identifier),
    vat_identifier=optional(text.map(lambda s: "BE" + s)),
    tax_registration=optional(st.builds(_drop_none, value=text, scheme=st.sampled_from(["TAX", "FC"]))),
    endpoint=optional(st.builds(dict, value=text, scheme=code)),
    address=address,
    contact=optional(contact),
)


@st.composite
def vat_spec(draw: st.DrawFn) -> dict[str, Any]:
    category = draw(st.sampled_from(["S", "Z", "E", "AE", "K", "G", "O", "L", "M", "B"]))
    if category == "O":
        return {"category": category}
    rate = draw(st.sampled_from(["21", "12", "6", "0", "7.5", "19.00"]))
    return {"category": category, "rate": rate}


@st.composite
def allowance_charge(draw: st.DrawFn, *, with_vat: bool) -> dict[str, Any]:
    data: dict[str, Any] = {"charge": draw(st.booleans())}
    shape = draw(st.sampled_from(["amount", "percentage", "both"]))
    if shape in ("percentage", "both"):
        data["base_amount"] = str(draw(positive_amount))
        data["percentage"] = str(draw(st.decimals(min_value=0, max_value=100, places=2)))
    if shape in ("amount", "both"):
        data["amount"] = str(draw(positive_amount))
    reason, reason_code = draw(optional(text)), draw(optional(code))
    data.update(_drop_none(reason=reason, reason_code=reason_code))
    if reason is None and reason_code is None:
        data["reason"] = "reason"
    if with_vat:
        data["vat"] = draw(vat_spec())
    return data


@st.composite
def price(draw: st.DrawFn) -> dict[str, Any]:
    data: dict[str, Any] = {}
    gross = draw(optional(st.decimals(min_value=0, max_value=999, places=4)))
    if gross is None:
        data["net_amount"] = str(draw(st.decimals(min_value=0, max_value=999, places=4)))
    else:
        discount = draw(st.decimals(min_value=0, max_value=gross, places=4))
        data.update(gross_amount=str(gross), discount=str(discount))
    if draw(st.booleans()):
        data["base_quantity"] = str(draw(st.decimals(min_value=Decimal("0.5"), max_value=100, places=1)))
        data["base_quantity_unit"] = draw(optional(st.sampled_from(["C62", "KGM", "HUR"])))
    return _drop_none(**data)


@st.composite
def invoice_line(draw: st.DrawFn, line_id: str) -> dict[str, Any]:
    return _drop_none(
        id=line_id,
        note=draw(optional(text)),
        object_identifier=draw(optional(identifier)),
        quantity=str(draw(st.decimals(min_value=-500, max_value=500, places=3))),
        unit_code=draw(st.sampled_from(["C62", "HUR", "KGM", "XBX"])),
        order_line_reference=draw(optional(text)),
        accounting_cost=draw(optional(text)),
        period=draw(optional(st.builds(_drop_none, start_date=dates, end_date=st.none()))),
        allowances_charges=draw(st.lists(allowance_charge(with_vat=False), max_size=2)),
        price=draw(price()),
        vat=draw(vat_spec()),
        item=_drop_none(
            name=draw(text),
            description=draw(optional(text)),
            sellers_id=draw(optional(text)),
            buyers_id=draw(optional(text)),
            standard_id=draw(optional(st.builds(dict, value=text, scheme=code))),
            classifications=draw(
                st.lists(
                    st.builds(_drop_none, code=text, list_id=code, list_version=optional(text)), max_size=2
                )
            ),
            origin_country=draw(optional(country)),
            attributes=draw(st.lists(st.builds(dict, name=text, value=text), max_size=2)),
        ),
    )


@st.composite
def document(draw: st.DrawFn) -> Invoice | CreditNote:
    credit = draw(st.booleans())
    lines = [draw(invoice_line(str(i))) for i in range(1, draw(st.integers(1, 3)) + 1)]
    means = draw(
        st.lists(
            st.builds(
                _drop_none,
                code=st.sampled_from(["30", "58", "48", "49"]),
                name=optional(text),
                payment_id=optional(text),
                credit_transfer=optional(
                    st.builds(
                        _drop_none, account_id=text, account_name=optional(text), provider_id=optional(text)
                    )
                ),
                card=optional(
                    st.builds(
                        _drop_none, primary_account_number=text, network_id=text, holder_name=optional(text)
                    )
                ),
                direct_debit=optional(
                    st.builds(_drop_none, mandate_reference=text, debited_account=optional(text))
                ),
            ),
            max_size=2,
        )
    )
    tax_currency = draw(st.booleans())
    data = _drop_none(
        kind="credit_note" if credit else "invoice",
        number=draw(text),
        issue_date=draw(dates),
        currency="EUR",
        vat_accounting_currency="SEK" if tax_currency else None,
        vat_total_accounting_currency=str(draw(amount)) if tax_currency else None,
        tax_point_date=draw(optional(dates)),
        due_date=draw(optional(dates)) if (means or not credit) else None,
        buyer_reference=draw(optional(text)),
        project_reference=draw(optional(text)),
        contract_reference=draw(optional(text)),
        purchase_order_reference=draw(optional(text)),
        sales_order_reference=draw(optional(text)),
        receiving_advice_reference=draw(optional(text)),
        despatch_advice_reference=draw(optional(text)),
        tender_or_lot_reference=draw(optional(text)),
        invoiced_object_identifier=draw(optional(identifier)),
        accounting_cost=draw(optional(text)),
        payment_terms=draw(optional(text)),
        notes=draw(st.lists(text, max_size=2)),
        preceding_invoices=draw(
            st.lists(st.builds(_drop_none, number=text, issue_date=optional(dates)), max_size=2)
        ),
        seller=draw(party),
        buyer=draw(party),
        payee=draw(
            optional(
                st.builds(
                    _drop_none,
                    name=text,
                    identifier=optional(identifier),
                    legal_registration_id=optional(identifier),
                )
            )
        ),
        tax_representative=draw(optional(st.builds(dict, name=text, vat_identifier=text, address=address))),
        delivery=draw(
            optional(
                st.builds(
                    _drop_none,
                    party_name=optional(text),
                    location_id=optional(identifier),
                    date=optional(dates),
                    address=optional(address),
                ).filter(bool)
            )
        ),
        invoice_period=draw(
            optional(
                st.builds(
                    _drop_none,
                    start_date=dates,
                    description_code=optional(st.sampled_from(["3", "35", "432"])),
                )
            )
        ),
        payment_means=means,
        allowances_charges=draw(st.lists(allowance_charge(with_vat=True), max_size=2)),
        prepaid_amount=str(draw(amount)) if draw(st.booleans()) else None,
        rounding_amount=str(draw(st.decimals(min_value=-1, max_value=1, places=2)))
        if draw(st.booleans())
        else None,
        attachments=draw(
            st.lists(
                st.builds(
                    _drop_none,
                    id=text,
                    description=optional(text),
                    uri=optional(text),
                ),
                max_size=2,
            )
        ),
        lines=lines,
    )
    model = CreditNote if credit else Invoice
    return fill_amounts(model.model_validate(data))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document())
def test_model_to_ubl_to_model_is_identity(doc: Invoice | CreditNote) -> None:
    xml = write_ubl(doc)
    assert read_ubl(xml) == doc
    assert write_ubl(doc) == xml  # deterministic


@settings(max_examples=30, deadline=None)
@given(document(), st.binary(min_size=20, max_size=20))
def test_attachments_round_trip(doc: Invoice | CreditNote, payload: bytes) -> None:
    attachment = {
        "id": "A-1",
        "content": base64.b64encode(payload).decode(),
        "mime_code": "application/pdf",
        "filename": "a.pdf",
    }
    doc = type(doc).model_validate(doc.model_dump() | {"attachments": [attachment]})
    assert read_ubl(write_ubl(doc)) == doc
