"""VAT categories (UNCL 5305 subset of EN 16931), the per-line VAT treatment and the VAT breakdown BG-23."""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from gateway.model.values import Amount, Code, ModelBase, Text, VatRate


class VatCategory(StrEnum):
    """BT-95/102/118/151 VAT category code (the EN 16931 subset of UNCL 5305)."""

    STANDARD = "S"
    ZERO_RATED = "Z"
    EXEMPT = "E"
    REVERSE_CHARGE = "AE"
    INTRA_COMMUNITY = "K"
    EXPORT = "G"
    NOT_SUBJECT = "O"
    CANARY_IGIC = "L"
    CEUTA_MELILLA_IPSI = "M"
    SPLIT_PAYMENT = "B"


#: Categories whose rate must be 0 (BR-Z-05, BR-E-05, BR-AE-05, BR-IC-05, BR-G-05).
ZERO_RATE_CATEGORIES: Final = frozenset(
    {
        VatCategory.ZERO_RATED,
        VatCategory.EXEMPT,
        VatCategory.REVERSE_CHARGE,
        VatCategory.INTRA_COMMUNITY,
        VatCategory.EXPORT,
    }
)

#: Categories that must carry an exemption reason code or text in the breakdown
#: (BR-E-10, BR-AE-10, BR-IC-10, BR-G-10, BR-O-10).
EXEMPTION_REQUIRED: Final = frozenset(
    {
        VatCategory.EXEMPT,
        VatCategory.REVERSE_CHARGE,
        VatCategory.INTRA_COMMUNITY,
        VatCategory.EXPORT,
        VatCategory.NOT_SUBJECT,
    }
)

#: Categories that must NOT carry an exemption reason (BR-S-10, BR-Z-10, BR-AF-10, BR-AG-10, BR-B-10).
EXEMPTION_FORBIDDEN: Final = frozenset(
    {
        VatCategory.STANDARD,
        VatCategory.ZERO_RATED,
        VatCategory.CANARY_IGIC,
        VatCategory.CEUTA_MELILLA_IPSI,
        VatCategory.SPLIT_PAYMENT,
    }
)

#: Default exemption reason (VATEX code, text) per category when the caller gives none. E has no
#: default: the legal basis must come from the caller (BR-E-10).
DEFAULT_EXEMPTIONS: Final[dict[VatCategory, tuple[str, str | None]]] = {
    VatCategory.REVERSE_CHARGE: ("VATEX-EU-AE", "Reverse charge"),
    VatCategory.INTRA_COMMUNITY: ("VATEX-EU-IC", None),
    VatCategory.EXPORT: ("VATEX-EU-G", None),
    VatCategory.NOT_SUBJECT: ("VATEX-EU-O", None),
}


class VatSpec(ModelBase):
    """The VAT treatment of a line (BG-30) or of a document allowance/charge (BT-95..96 / BT-102..103).

    The exemption reason is not written on the line (UBL has no place for it in BIS); it goes to the
    matching VAT breakdown BG-23 (BT-120/121).
    """

    category: VatCategory
    """BT-151/95/102 VAT category code."""
    rate: VatRate | None = None
    """BT-152/96/103 VAT rate in percent; absent only for category O (BR-O-05)."""
    exemption_reason_code: Code | None = None
    """BT-121 VATEX code for the breakdown of this category (e.g. ``VATEX-EU-132-1N``)."""
    exemption_reason: Text | None = None
    """BT-120 exemption reason text for the breakdown of this category."""


class VatBreakdown(ModelBase):
    """BG-23 VAT breakdown: one per VAT category and rate (UBL ``cac:TaxSubtotal``)."""

    category: VatCategory
    """BT-118 VAT category code."""
    rate: VatRate | None = None
    """BT-119 VAT category rate (absent for O)."""
    taxable_amount: Amount
    """BT-116 VAT category taxable amount."""
    tax_amount: Amount
    """BT-117 VAT category tax amount."""
    exemption_reason_code: Code | None = None
    """BT-121 VAT exemption reason code (VATEX)."""
    exemption_reason: Text | None = None
    """BT-120 VAT exemption reason text."""
