"""Expense drafts from the document model: credit notes are negative, payment references are recognised,
attachments are listed and decoded, the duplicate key depends on supplier, kind, number and amount."""

from __future__ import annotations

import base64
import hashlib
from decimal import Decimal
from pathlib import Path

from gateway.model import CreditNote, Invoice, ParticipantID, complete_document
from gateway.model.payment import CreditTransfer, PaymentMeans
from gateway.model.values import ElectronicAddress
from gateway.services.conversion import parse_document_json
from gateway.services.expense_drafts import attachment_bytes, build_draft, buyer_doubt, supplier_of

DOCUMENTS = Path(__file__).resolve().parents[2] / "data" / "documents"
SENDER = ParticipantID.parse("0208:0412345614")


def load(name: str) -> Invoice | CreditNote:
    return complete_document(parse_document_json((DOCUMENTS / name).read_bytes()))


def test_invoice_draft_carries_the_document_s_values() -> None:
    document = load("be-domestic-mixed-rates.json")
    values = build_draft(document, sender=SENDER)
    assert document.totals is not None
    assert values.amount == document.totals.payable_amount
    # BT-34 (0208:0739484052) names another participant than the SBDH sender: kept under the sender.
    assert values.supplier_key == SENDER.key
    assert values.doubt is not None
    assert "(BT-34) 0208:0739484052 is not the sender" in values.doubt
    assert values.draft["payment"]["structured_communication"].startswith("+++")
    assert len(values.draft["vat_breakdown"]) == len(document.vat_breakdown or ())
    assert values.credited_numbers == ()


def test_credit_note_draft_is_negative_and_names_the_credited_invoice() -> None:
    document = load("credit-note.json")
    values = build_draft(document, sender=SENDER)
    assert values.kind == "credit_note"
    assert values.amount < 0
    assert all(Decimal(b["taxable"]) <= 0 for b in values.draft["vat_breakdown"])
    assert values.credited_numbers == ("2026-0004711",)
    assert values.dedupe_key != build_draft(load("be-domestic-mixed-rates.json"), sender=SENDER).dedupe_key


def test_a_creditor_reference_is_kept_as_reference_not_as_structured_communication() -> None:
    document = load("attachment-pdf.json")
    values = build_draft(document, sender=SENDER)
    assert values.draft["payment"]["structured_communication"] is None
    assert values.draft["payment"]["reference"].replace(" ", "") == "RF18539007547034"
    other = document.model_copy(
        update={
            "payment_means": (
                PaymentMeans(code="30", credit_transfer=CreditTransfer(account_id="BE68539007547034")),
            )
        }
    )
    assert build_draft(other, sender=SENDER).draft["payment"]["reference"] is None


def test_attachments_are_listed_and_decoded() -> None:
    document = load("attachment-pdf.json")
    listed = build_draft(document, sender=SENDER).draft["attachments"]
    assert [(a["n"], a["embedded"], a["mime"]) for a in listed] == [
        (1, True, "application/pdf"),
        (2, False, None),
    ]
    content = document.attachments[0].content
    assert content is not None
    assert attachment_bytes(document, 1) == (
        base64.b64decode(content),
        "application/pdf",
        listed[0]["filename"],
    )
    assert attachment_bytes(document, 2) is None
    assert attachment_bytes(document, 0) is None
    assert attachment_bytes(document, 3) is None


def test_the_duplicate_key_changes_with_the_amount() -> None:
    document = load("be-zero-rated.json")
    assert document.totals is not None
    cheaper = document.model_copy(
        update={"totals": document.totals.model_copy(update={"payable_amount": Decimal("1.00")})}
    )
    assert build_draft(document, sender=SENDER).dedupe_key != build_draft(cheaper, sender=SENDER).dedupe_key
    assert build_draft(document, sender=SENDER).dedupe_key == build_draft(document, sender=SENDER).dedupe_key


def test_the_duplicate_key_does_not_change_with_how_the_amount_is_written() -> None:
    """36.00, 36.0 and 36 are one amount: a resend written with fewer decimals is the same invoice, not a new
    expense to approve (and pay) twice; the key of a two-decimal amount stays what it was."""
    document = load("be-zero-rated.json")
    assert document.totals is not None
    keys = set()
    for written in ("36.00", "36.0", "36", "36.000"):
        again = document.model_copy(
            update={"totals": document.totals.model_copy(update={"payable_amount": Decimal(written)})}
        )
        keys.add(build_draft(again, sender=SENDER).dedupe_key)
    assert len(keys) == 1
    values = build_draft(document, sender=SENDER)
    text = f"{values.supplier_key}|{values.kind}|{values.number}|{values.amount:.2f}|{values.currency}"
    assert values.dedupe_key == hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_the_supplier_is_bt_34_when_it_names_the_sender_s_enterprise() -> None:
    document = load("be-domestic-mixed-rates.json")  # BT-34 0208:0739484052
    for sender in ("0208:0739484052", "9925:BE0739484052", "9925:be0739484052"):
        supplier, doubt = supplier_of(document, ParticipantID.parse(sender))
        assert (str(supplier), doubt) == ("0208:0739484052", None)
    other = ParticipantID.parse("0208:0412345614")
    supplier, doubt = supplier_of(document, other)
    assert supplier == other
    assert doubt is not None


BUYER = ParticipantID.parse("0208:0412345614")  # BT-49 of be-domestic-mixed-rates.json
BUYER_GLN = ParticipantID.parse("0088:5412345000013")  # another participant id the buyer is served under


def test_a_buyer_named_as_the_receiver_or_its_vat_number_is_not_in_doubt() -> None:
    document = load("be-domestic-mixed-rates.json")
    assert buyer_doubt(document, BUYER) is None
    assert buyer_doubt(document, ParticipantID.parse("9925:be0412345614")) is None  # VAT form, any case
    assert buyer_doubt(document, None) is None  # receiver unknown


def test_a_buyer_that_is_not_the_receiver_is_in_doubt() -> None:
    document = load("be-domestic-mixed-rates.json")
    doubt = buyer_doubt(document, BUYER_GLN)
    assert doubt is not None
    assert "(BT-49) 0208:0412345614 is not the receiver" in doubt
    values = build_draft(document, sender=SENDER, receiver=BUYER_GLN)
    assert values.doubt is not None
    assert "(BT-49)" in values.doubt
    assert "(BT-34)" in values.doubt


def test_a_buyer_naming_another_participant_we_serve_is_not_in_doubt() -> None:
    # GATEWAY_AS4__SERVED lists the cooperative's ids (0208, 9925, a GLN...): an invoice delivered to one of
    # them whose BT-49 names another is the cooperative's all the same, not another company's.
    document = load("be-domestic-mixed-rates.json")
    ours = frozenset({BUYER_GLN, ParticipantID.parse("9925:BE0412345614")})
    assert buyer_doubt(document, BUYER_GLN, ours=ours) is None
    seller = ParticipantID.parse("0208:0739484052")  # its BT-34: no seller doubt either
    assert build_draft(document, sender=seller, receiver=BUYER_GLN, ours=ours).doubt is None
    stranger = frozenset({BUYER_GLN, ParticipantID.parse("0208:0123456749")})
    assert buyer_doubt(document, BUYER_GLN, ours=stranger) is not None
    # Delivered to a participant we do not serve (our SPID, before it took MLS only): not vouched for by
    # the served list.
    assert buyer_doubt(document, ParticipantID.parse("0242:000001"), ours=ours | {BUYER}) is not None


def test_a_buyer_address_that_is_no_participant_id_is_in_doubt() -> None:
    # EAS codes besides the 4-digit ICDs (EM: e-mail, a private person) name no Peppol participant: a
    # document delivered through Peppol to one of ours whose BT-49 is one is not addressed to us.
    document = load("be-domestic-mixed-rates.json")
    emailed = document.model_copy(
        update={
            "buyer": document.buyer.model_copy(
                update={"endpoint": ElectronicAddress(value="someone@example.be", scheme="EM")}
            )
        }
    )
    doubt = buyer_doubt(emailed, BUYER, ours={BUYER})
    assert doubt is not None
    assert "(BT-49) EM:someone@example.be is not the receiver" in doubt
