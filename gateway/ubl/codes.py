"""UBL 2.1 names and fixed code values used by the BIS Billing 3.0 mapping."""

from __future__ import annotations

from typing import Final

from gateway.xmlcore import NS

INVOICE_NS: Final = NS["inv"]
CREDIT_NOTE_NS: Final = NS["cn"]
CAC: Final = NS["cac"]
CBC: Final = NS["cbc"]

#: Prefix map for ElementPath lookups (``find``/``findall``) in the reader.
UBL_NS: Final = {"cac": CAC, "cbc": CBC, "inv": INVOICE_NS, "cn": CREDIT_NOTE_NS}

#: CustomizationID prefix shared by every EN 16931 UBL document (BIS Billing: R004 pins the full value).
EN16931_CUSTOMIZATION_PREFIX: Final = "urn:cen.eu:en16931:2017"

#: ``cac:TaxScheme/cbc:ID`` of VAT (BT-31, BT-48, BT-63, tax categories).
VAT_SCHEME: Final = "VAT"

#: ``cbc:DocumentTypeCode`` of an invoiced object identifier (BT-18, BT-128; UNCL 1001 "130").
INVOICED_OBJECT_TYPE_CODE: Final = "130"
#: ``cbc:DocumentTypeCode`` of the project reference BT-11 in a CreditNote (UBL CreditNote has no
#: ProjectReference; BIS Billing uses an AdditionalDocumentReference with code 50).
PROJECT_TYPE_CODE: Final = "50"
#: ``cac:OrderReference/cbc:ID`` when only a sales order reference BT-14 is given (UBL requires the ID).
NO_ORDER_ID: Final = "NA"
