"""Payment instructions (BG-16..BG-19) and the Belgian structured communication (OGM/VCS) for BT-83.

The OGM is 10 base digits followed by ``base mod 97`` (``00`` becomes ``97``), displayed as
``+++ddd/dddd/ddddd+++``. No BIS rule checks it (bis-billing.md §6.3), so the gateway does. ISO 11649
``RF`` creditor references are accepted as well.
"""

from __future__ import annotations

import re
from typing import Final

from gateway.errors import InvalidDocumentData
from gateway.model.values import Code, ModelBase, Text

#: UNCL 4461 codes for SEPA / non-SEPA credit transfer (BR-61: they need the payee account BT-84).
CREDIT_TRANSFER_CODES: Final = frozenset({"30", "58"})
#: UNCL 4461 codes for direct debit (PEPPOL-EN16931-R061: they need the mandate reference BT-89).
DIRECT_DEBIT_CODES: Final = frozenset({"49", "59"})

_OGM_LEN: Final = 12


def _ogm_check(base: str) -> str:
    remainder = int(base) % 97
    return f"{remainder or 97:02d}"


def format_structured_communication(digits: str) -> str:
    """Render 12 OGM digits as ``+++ddd/dddd/ddddd+++``.

    Raises:
        InvalidDocumentData: ``digits`` is not a valid 12-digit OGM.
    """
    digits = parse_structured_communication(digits)
    return f"+++{digits[:3]}/{digits[3:7]}/{digits[7:]}+++"


def parse_structured_communication(text: str) -> str:
    """Validate a Belgian structured communication and return its 12 digits.

    Accepts ``+++123/4567/89012+++``, ``***...***`` or the bare digits; every non-digit is stripped.

    Raises:
        InvalidDocumentData: not 12 digits, or the mod-97 check digits are wrong (BT-83).
    """
    digits = re.sub(r"\D", "", text)
    if len(digits) != _OGM_LEN:
        raise InvalidDocumentData(
            f"BT-83 payment identifier {text!r} is not a Belgian structured communication (12 digits needed)"
        )
    base, check = digits[:10], digits[10:]
    if _ogm_check(base) != check:
        raise InvalidDocumentData(
            f"BT-83 structured communication {text!r} has check digits {check}, expected {_ogm_check(base)}"
        )
    return digits


def structured_communication_from_number(number: str) -> str:
    """Derive the OGM (``+++ddd/dddd/ddddd+++``) deterministically from an invoice number (BT-1).

    bis-billing.md §6.3: a 7-digit sequence plus a 3-digit year/series. The last group of digits in the
    number is the sequence (its last 7 digits), the digits before it give the series (their last 3
    digits, e.g. the year ``2026`` -> ``026``). A number with one digit group uses its last 10 digits.
    ``"2026-0004711"`` -> base ``0004711026``; ``"471100"`` -> base ``0000471100`` ->
    ``+++000/0471/10068+++``.

    Raises:
        InvalidDocumentData: the number holds no digit at all.
    """
    groups = re.findall(r"[0-9]+", number)
    if not groups:
        raise InvalidDocumentData(
            f"BT-1 invoice number {number!r} has no digits to derive a structured communication (BT-83) from"
        )
    if len(groups) == 1:
        base = groups[0][-10:].zfill(10)
    else:
        base = groups[-1][-7:].zfill(7) + "".join(groups[:-1])[-3:].zfill(3)
    return format_structured_communication(base + _ogm_check(base))


def is_valid_creditor_reference(text: str) -> bool:
    """Check an ISO 11649 creditor reference (``RF`` + 2 check digits + up to 21 alphanumerics)."""
    ref = re.sub(r"\s", "", text).upper()
    if not re.fullmatch(r"RF[0-9]{2}[0-9A-Z]{1,21}", ref):
        return False
    return _mod97_alnum(ref[4:] + ref[:4]) == 1


def _mod97_alnum(text: str) -> int:
    # ISO 7064 MOD 97-10 over letters mapped A=10 .. Z=35 (used by ISO 11649 and ISO 13616 IBAN).
    return int("".join(str(int(ch, 36)) for ch in text)) % 97


def normalise_payment_reference(text: str) -> str:
    """Normalise an outbound BT-83: an OGM becomes ``+++ddd/dddd/ddddd+++``, an RF reference is
    upper-cased without blanks.

    Raises:
        InvalidDocumentData: neither a valid OGM nor a valid ISO 11649 reference.
    """
    compact = re.sub(r"\s", "", text).upper()
    if compact.startswith("RF"):
        if not is_valid_creditor_reference(compact):
            raise InvalidDocumentData(f"BT-83 creditor reference {text!r} fails the ISO 11649 check")
        return compact
    return format_structured_communication(parse_structured_communication(text))


def is_valid_iban(text: str) -> bool:
    """Check an IBAN (ISO 13616): country, 2 check digits, BBAN; mod 97 of the rearranged string = 1."""
    iban = re.sub(r"\s", "", text).upper()
    if not re.fullmatch(r"[A-Z]{2}[0-9]{2}[0-9A-Z]{11,30}", iban):
        return False
    if iban.startswith("BE") and len(iban) != 16:
        return False
    return _mod97_alnum(iban[4:] + iban[:4]) == 1


class CreditTransfer(ModelBase):
    """BG-17 credit transfer: the payee's account (UBL ``cac:PayeeFinancialAccount``)."""

    account_id: Text
    """BT-84 payment account identifier (an IBAN for SEPA)."""
    account_name: Text | None = None
    """BT-85 payment account name."""
    provider_id: Text | None = None
    """BT-86 payment service provider identifier (BIC)."""


class PaymentCard(ModelBase):
    """BG-18 payment card information (UBL ``cac:CardAccount``)."""

    primary_account_number: Text
    """BT-87 the card number; only the last 4 to 6 digits may be given."""
    network_id: Text = "NA"
    """UBL ``cbc:NetworkID`` (mandatory in UBL, no BT): the card network, e.g. ``VISA``."""
    holder_name: Text | None = None
    """BT-88 payment card holder name."""


class DirectDebit(ModelBase):
    """BG-19 direct debit. The creditor identifier (BT-90) is a party identifier with scheme ``SEPA``
    on the seller or payee (BIS Billing syntax), so it lives in ``Party.identifiers``."""

    mandate_reference: Text
    """BT-89 mandate reference identifier (PEPPOL-EN16931-R061)."""
    debited_account: Text | None = None
    """BT-91 debited account identifier."""


class PaymentMeans(ModelBase):
    """BG-16 payment instructions (one UBL ``cac:PaymentMeans``)."""

    code: Code = "30"
    """BT-81 payment means type code (UNCL 4461): 30/58 credit transfer, 48 card, 49/59 direct debit."""
    name: Text | None = None
    """BT-82 payment means text (UBL ``PaymentMeansCode/@name``)."""
    payment_id: Text | None = None
    """BT-83 remittance information; outbound: the Belgian OGM (generated when absent) or an RF reference."""
    credit_transfer: CreditTransfer | None = None
    """BG-17 credit transfer."""
    card: PaymentCard | None = None
    """BG-18 payment card information."""
    direct_debit: DirectDebit | None = None
    """BG-19 direct debit."""
