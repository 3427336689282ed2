"""The EPC QR code ("Girocode") for a SEPA credit transfer: payload per EPC069-12 and the SVG image.

EPC069-12 v3.0 §3.4 (Quick Response Code: guidelines to enable data capture for the initiation of a SEPA
credit transfer): a UTF-8 payload of LF-separated fields, at most 331 bytes, error correction level M.

====  ==============================================  =================================
line  field                                            rule
====  ==============================================  =================================
1     service tag                                      ``BCD``
2     version                                          ``002`` (BIC optional in the EEA)
3     character set                                    ``1`` = UTF-8
4     identification                                   ``SCT``
5     BIC of the beneficiary bank                      optional in version 002
6     beneficiary name                                 1-70 characters
7     beneficiary account                              IBAN
8     amount                                           ``EUR`` + 0.01-999999999.99, "." decimals
9     purpose                                          4 letters, optional
10    structured remittance (ISO 11649 RF reference)   max 35; exclusive with line 11
11    unstructured remittance                          max 140
12    beneficiary-to-originator information            max 70, optional (omitted here)
====  ==============================================  =================================

A Belgian structured communication is not an ISO 11649 reference, so it goes to line 11 written as
``+++ddd/dddd/ddddd+++``, the form Belgian banking apps recognise as a structured communication.
"""

from __future__ import annotations

import base64
import io
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

import segno

from gateway.model.payment import is_valid_creditor_reference, is_valid_iban

SERVICE_TAG: Final = "BCD"
VERSION: Final = "002"
UTF8: Final = "1"
IDENTIFICATION: Final = "SCT"
MAX_PAYLOAD_BYTES: Final = 331
MAX_AMOUNT: Final = Decimal("999999999.99")
MAX_NAME: Final = 70
MAX_STRUCTURED: Final = 35
MAX_UNSTRUCTURED: Final = 140
_BIC = re.compile(r"^[A-Z]{6}[A-Z2-9][A-NP-Z0-9]([A-Z0-9]{3})?$")


@dataclass(frozen=True, slots=True)
class CreditTransfer:
    """What the payer's app needs to initiate the transfer.

    Attributes:
        name: beneficiary name (payee name BT-59, else the seller's name).
        iban: beneficiary account (BT-84).
        amount: amount due in euro (BT-115).
        reference: remittance information (BT-83), an RF creditor reference or free text.
        bic: beneficiary bank (BT-86), optional.
    """

    name: str
    iban: str
    amount: Decimal
    reference: str | None = None
    bic: str | None = None


def build_payload(transfer: CreditTransfer) -> str | None:
    """The EPC069-12 payload of ``transfer``, or None when no valid EPC QR code can carry it.

    None when the IBAN fails its check digits, the amount is outside 0.01-999 999 999.99 EUR, the name is
    empty, or the fields do not fit in 331 bytes even with the name shortened to one character: a code that
    a banking app refuses is worse than none.
    """
    iban = re.sub(r"\s", "", transfer.iban).upper()
    name = " ".join(transfer.name.split())[:MAX_NAME]
    # The range before rounding: rounding 1E+100000 (or 40 digits) to cents raises InvalidOperation.
    if not transfer.amount.is_finite() or not Decimal("0.005") <= transfer.amount <= MAX_AMOUNT:
        return None
    amount = transfer.amount.quantize(Decimal("0.01"))
    if not is_valid_iban(iban) or not name or not Decimal("0.01") <= amount <= MAX_AMOUNT:
        return None
    bic = re.sub(r"\s", "", transfer.bic or "").upper()
    reference = " ".join((transfer.reference or "").split())
    compact = reference.replace(" ", "").upper()
    structured = compact if is_valid_creditor_reference(compact) and len(compact) <= MAX_STRUCTURED else ""
    unstructured = "" if structured else reference[:MAX_UNSTRUCTURED]
    fields = [
        SERVICE_TAG,
        VERSION,
        UTF8,
        IDENTIFICATION,
        bic if _BIC.match(bic) else "",
        name,
        iban,
        f"EUR{amount}",
        "",
        structured,
        unstructured,
    ]
    while fields[-1] == "":  # trailing empty fields may be omitted (EPC069-12 §3.4)
        fields.pop()
    payload = "\n".join(fields)
    while len(payload.encode()) > MAX_PAYLOAD_BYTES and len(fields[5]) > 1:  # the name, never the data
        fields[5] = fields[5][:-1].rstrip()
        payload = "\n".join(fields)
    # 140 characters of remittance text of up to 4 bytes each do not fit: no code, rather than one with
    # no beneficiary name (a mandatory field) or over the limit.
    return payload if len(payload.encode()) <= MAX_PAYLOAD_BYTES else None


def qr_svg_data_uri(payload: str) -> str:
    """The QR code of ``payload`` as an SVG ``data:`` URI (error correction M, per EPC069-12)."""
    code = segno.make(payload, error="m", encoding="utf-8", micro=False, boost_error=False)
    buffer = io.BytesIO()
    code.save(buffer, kind="svg", scale=4, border=4, xmldecl=False, svgns=True, nl=False)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
