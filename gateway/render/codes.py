"""Human labels (English msgids, translated by the catalogues) for the code lists a reader meets.

Unknown codes are shown as the code itself: a foreign document may use any code the rules allow.
"""

from __future__ import annotations

from typing import Final


def N_(message: str) -> str:
    """Mark a message for the catalogue without translating it here (gettext convention)."""
    return message


#: UNTDID 1001 document types (BT-3) used in BIS Billing 3.0 -> document title.
DOCUMENT_TITLES: Final = {
    "380": N_("Invoice"),
    "381": N_("Credit note"),
    "383": N_("Debit note"),
    "384": N_("Corrected invoice"),
    "386": N_("Prepayment invoice"),
    "389": N_("Self-billed invoice"),
    "261": N_("Self-billed credit note"),
    "396": N_("Factored credit note"),
    "393": N_("Factored invoice"),
    "751": N_("Invoice information for accounting purposes"),
}

#: UNCL 5305 VAT category codes (BT-118, BT-151) as used by EN 16931.
VAT_CATEGORIES: Final = {
    "S": N_("Standard rate"),
    "Z": N_("Zero rated"),
    "E": N_("Exempt from VAT"),
    "AE": N_("VAT reverse charge"),
    "K": N_("Intra-community supply"),
    "G": N_("Export outside the EU"),
    "O": N_("Not subject to VAT"),
    "L": N_("Canary Islands general indirect tax"),
    "M": N_("Tax for production, services and importation in Ceuta and Melilla"),
    "B": N_("Transferred (VAT), Italy"),
}

#: UNCL 4461 payment means (BT-81) met in practice.
PAYMENT_MEANS: Final = {
    "1": N_("Not defined"),
    "10": N_("In cash"),
    "20": N_("Cheque"),
    "30": N_("Credit transfer"),
    "31": N_("Debit transfer"),
    "42": N_("Payment to bank account"),
    "48": N_("Bank card"),
    "49": N_("Direct debit"),
    "54": N_("Credit card"),
    "55": N_("Debit card"),
    "57": N_("Standing agreement"),
    "58": N_("SEPA credit transfer"),
    "59": N_("SEPA direct debit"),
    "68": N_("Online payment service"),
    "97": N_("Clearing between partners"),
    "ZZZ": N_("Mutually defined"),
}

#: UN/ECE Recommendation 20 unit codes (BT-130) most used on invoices.
UNITS: Final = {
    "C62": N_("unit"),
    "H87": N_("piece"),
    "EA": N_("each"),
    "XPP": N_("piece"),
    "HUR": N_("hour"),
    "DAY": N_("day"),
    "WEE": N_("week"),
    "MON": N_("month"),
    "ANN": N_("year"),
    "MIN": N_("minute"),
    "KGM": N_("kg"),
    "GRM": N_("g"),
    "TNE": N_("tonne"),
    "MTR": N_("m"),
    "KMT": N_("km"),
    "MTK": N_("m²"),
    "MTQ": N_("m³"),
    "LTR": N_("l"),
    "KWH": N_("kWh"),
    "SET": N_("set"),
    "PR": N_("pair"),
    "BX": N_("box"),
    "XBX": N_("box"),
    "PK": N_("pack"),
    "LS": N_("lump sum"),
    "E48": N_("service unit"),
}

#: Reference kinds of ``view.Reference`` -> label (business term in the comment).
REFERENCE_LABELS: Final = {
    "order": N_("Purchase order"),  # BT-13
    "sales_order": N_("Sales order"),  # BT-14
    "preceding_invoice": N_("Preceding invoice"),  # BT-25
    "contract": N_("Contract"),  # BT-12
    "despatch_advice": N_("Despatch advice"),  # BT-16
    "receiving_advice": N_("Receiving advice"),  # BT-15
    "tender": N_("Tender or lot"),  # BT-17
    "project": N_("Project"),  # BT-11
    "invoiced_object": N_("Invoiced object"),  # BT-18
    "seller_item": N_("Seller's item id"),  # BT-155
    "buyer_item": N_("Buyer's item id"),  # BT-156
    "standard_item": N_("Standard item id"),  # BT-157
}

#: UNTDID 2005 invoicing period description codes (BT-8).
PERIOD_CODES: Final = {
    "3": N_("invoice date"),
    "35": N_("delivery date"),
    "432": N_("payment date"),
}

#: Every msgid defined in this module (the catalogue test checks each is translated).
ALL_LABELS: Final = frozenset(
    label
    for table in (DOCUMENT_TITLES, VAT_CATEGORIES, PAYMENT_MEANS, UNITS, REFERENCE_LABELS, PERIOD_CODES)
    for label in table.values()
)
