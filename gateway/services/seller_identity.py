"""Whether a posted document is in the cooperative's name, the one legal entity the gateway sends for
(``GATEWAY_SELLER_ID``): ``seller_problem`` says whether its BT-34 names the cooperative,
``seller_identity_problems`` whether its other seller ids (BT-29 to BT-32) name another Belgian enterprise,
``seller_name_problems`` whether its seller name (BT-27) is the cooperative's legal name
(``GATEWAY_SELLER_NAME``).
What the document states is read by ``gateway.services.outbound_input`` (``PreparedDocument``)."""

from __future__ import annotations

import re
import unicodedata
from typing import Final

from gateway.model.identifiers import ParticipantID
from gateway.model.message import DocumentKind
from gateway.services.legal_names import same_legal_name
from gateway.services.outbound_input import PreparedDocument, SellerIdentifier

#: Where each kind of document gives BT-34 (a JSON seller's ``enterprise_number`` fills ``endpoint``).
_SELLER_FIELD: Final = {
    DocumentKind.INVOICE: "seller.endpoint",
    DocumentKind.CREDIT_NOTE: "seller.endpoint",
    DocumentKind.UBL: "cac:AccountingSupplierParty/cac:Party/cbc:EndpointID",
}

#: Where each kind of document gives BT-28, the seller trading name: the place of an activity's own name.
_TRADING_NAME_FIELD: Final = {
    DocumentKind.INVOICE: "seller.trading_name",
    DocumentKind.CREDIT_NOTE: "seller.trading_name",
    DocumentKind.UBL: "cac:AccountingSupplierParty/cac:Party/cac:PartyName/cbc:Name",
}

#: Longest identifier or name quoted whole in a problem (a posted one can be as long as the document).
_QUOTED_MAX: Final = 64


def _quoted(written: str) -> str:
    """An identifier as a problem quotes it: shortened past ``_QUOTED_MAX`` characters."""
    if len(written) <= _QUOTED_MAX:
        return written
    return f"{written[:_QUOTED_MAX]}... ({len(written)} characters)"


def _quoted_name(name: str) -> str:
    """A name as a problem quotes it: in double quotes, shortened past ``_QUOTED_MAX`` characters."""
    if len(name) <= _QUOTED_MAX:
        return f'"{name}"'
    return f'"{name[:_QUOTED_MAX]}..." ({len(name)} characters)'


def seller_problem(prepared: PreparedDocument, seller: ParticipantID) -> str | None:
    """Why ``prepared`` may not be sent from this access point, or None: the gateway sends for one legal
    entity, whose participant id is ``seller`` (``GATEWAY_SELLER_ID``), so a BT-34 naming another
    enterprise would send the document in that enterprise's name. Ids compare as Peppol ids do
    (``ParticipantID.same_enterprise``: case-insensitive, and a Belgian enterprise's ``9925`` VAT form is
    its ``0208`` enterprise number). A document without BT-34 is sent under ``seller``."""
    if prepared.seller_address is None:
        return None
    if prepared.sender is not None and prepared.sender.same_enterprise(seller):
        return None
    address = _quoted(prepared.seller_address)
    return (
        f"{_SELLER_FIELD[prepared.kind]}: BT-34 seller electronic address {address} is not the cooperative's "
        f"participant id {seller}; the seller must be the cooperative (documents are sent in its name only)"
    )


_ENTERPRISE_NUMBER = re.compile(r"[01][0-9]{9}")  # KBO/BCE enterprise numbers start with 0 or 1
_ESTABLISHMENT_NUMBER = re.compile(r"[2-8][0-9]{9}")  # KBO/BCE establishment unit numbers
_LEGACY_NUMBER = re.compile(r"[0-9]{9}")  # an enterprise number before its leading 0 was added
_NUMBER_SCHEME: Final = "0208"
_SELLER_TERMS: Final = {
    "BT-29": "seller identifier",
    "BT-30": "seller legal registration identifier",
    "BT-31": "seller VAT identifier",
    "BT-32": "seller tax registration identifier",
}


def _enterprise_number_of(seller: ParticipantID) -> str | None:
    """The Belgian enterprise number ``seller`` names (``0208`` or its ``9925`` VAT form), or None."""
    icd, _, number = seller.enterprise_key.partition(":")
    return number if icd == _NUMBER_SCHEME and _ENTERPRISE_NUMBER.fullmatch(number) else None


def _compact(text: str) -> str:
    """``text`` as the number it spells: compatibility forms folded (full-width letters and digits), every
    decimal digit as its ASCII digit, blanks, dots, hyphens and invisible format characters (zero-width
    spaces) dropped, upper case."""
    kept = []
    for char in unicodedata.normalize("NFKC", text):
        if char.isspace() or char in ".-" or unicodedata.category(char) == "Cf":
            continue
        digit = unicodedata.decimal(char, None)
        kept.append(str(digit) if digit is not None else char.upper())
    return "".join(kept)


def _belgian_number(compact: str) -> str:
    """A compacted number without its ``BE`` prefix, a 9-digit legacy number with its leading 0."""
    number = compact.removeprefix("BE")
    return "0" + number if _LEGACY_NUMBER.fullmatch(number) else number


def _names_another_enterprise(stated: SellerIdentifier, ours: str, vat: str) -> bool:
    if stated.term in ("BT-29", "BT-30"):
        if (stated.scheme or "").strip() != _NUMBER_SCHEME:
            return False
        number = _belgian_number(_compact(stated.value))
        return number != ours and not _ESTABLISHMENT_NUMBER.fullmatch(number)
    compact = _compact(stated.value)
    return compact.startswith("BE") and _belgian_number(compact) != (vat if stated.term == "BT-31" else ours)


def seller_identity_problems(
    prepared: PreparedDocument, seller: ParticipantID, vat_number: str | None = None
) -> tuple[str, ...]:
    """Why ``prepared`` may not be sent in the cooperative's name although its BT-34 is the cooperative's
    (``seller_problem``): another identifier of its seller names another Belgian enterprise, so the
    document would still state that enterprise as the legal entity that sells (its VAT number BT-31 is
    what the buyer deducts VAT under) while our access point sends it.

    The cooperative is one legal entity with one enterprise number, which its participant id gives
    (``0208:<number>``, or the ``9925:BE<number>`` VAT form); a seller id of another scheme gives none, and
    nothing is checked then. Checked are the identifiers that say they are Belgian enterprise numbers:

    - BT-29 and BT-30 under scheme ``0208`` (blanks around the schemeID ignored: PEPPOL-COMMON-R043 reads
      ``0208`` exactly, so ``"0208 "`` escapes it). Their number must be the cooperative's, or a KBO
      establishment unit number (first digit 2 to 8: a production unit's, not another enterprise).
    - BT-31 (tax scheme ``VAT``) starting with ``BE``: the cooperative's VAT number, ``vat_number``
      (``GATEWAY_SELLER_VAT_NUMBER``) when given, else ``BE`` and its enterprise number. They differ when
      the cooperative is a member of a VAT unit (BTW-eenheid, unité TVA): a member invoices under the VAT
      unit's own VAT number, not under ``BE`` and its enterprise number.
    - BT-32 (another tax scheme) starting with ``BE``: ``BE`` and the cooperative's enterprise number, even
      for a VAT unit member. BT-32 is the seller's own tax registration, not its VAT identifier (BT-31 is
      that one): a VAT unit member states the unit's VAT number and, beside it, its own enterprise number
      (Belgian invoicing rules ask for both), which is what BT-32 can carry. The VAT unit is a taxable
      person of its own with its own number in the KBO/BCE, so that number anywhere but BT-31 would name
      it rather than the cooperative.

    Numbers compare after ``_compact``: blanks, dots and hyphens are spelling (``BE 0739.484.052``), and a
    9-digit legacy number gains its leading 0; look-alike spellings (full-width digits, a zero-width
    space) are read as the number a reader sees, so they cannot show another enterprise's number while
    escaping the comparison. Left alone: BT-30 without scheme or under another one (the BIS examples'
    ``GB983294``), and foreign VAT numbers (``NL...B01``: a Belgian enterprise may be registered abroad).
    """
    ours = _enterprise_number_of(seller)
    if ours is None:
        return ()
    vat = _belgian_number(_compact(vat_number)) if vat_number is not None else ours
    return tuple(
        _identity_problem(stated, ours, vat)
        for stated in prepared.seller_ids
        if _names_another_enterprise(stated, ours, vat)
    )


def _identity_problem(stated: SellerIdentifier, ours: str, vat: str) -> str:
    registration = stated.term in ("BT-29", "BT-30")
    written = _quoted(f"{stated.scheme}:{stated.value}" if registration and stated.scheme else stated.value)
    if registration:
        cooperative = f"{_NUMBER_SCHEME}:{ours}"
    else:
        cooperative = f"BE{vat if stated.term == 'BT-31' else ours}"
    return (
        f"{stated.field}: {stated.term} {_SELLER_TERMS[stated.term]} {written} is not the cooperative's "
        f"({cooperative}); the seller must be the cooperative (documents are sent in its name only)"
    )


def seller_name_problems(prepared: PreparedDocument, legal_name: str) -> tuple[str, ...]:
    """Why ``prepared`` may not be sent in the cooperative's name although its seller ids are the
    cooperative's: its seller name (BT-27), the name of the VAT-registered supplier the invoice must state,
    is not the cooperative's legal name ``legal_name`` (``GATEWAY_SELLER_NAME``). An activity's invoicing
    set-up that writes the member's own name, or a former company's, as BT-27 under the cooperative's VAT
    number gives an invoice whose seller name and VAT number name two different sellers; the activity's
    own name belongs in BT-28, the seller trading name.

    Names compare as ``gateway.services.legal_names`` says: case, blanks, Unicode forms and the dots of the
    trailing legal form are spelling, another word or another legal form is another name. A document
    without BT-27 is left to validation (BR-06).
    """
    expected = _quoted_name(legal_name)
    return tuple(
        f"{stated.field}: BT-27 seller name {_quoted_name(stated.value)} is not the cooperative's legal name "
        f"{expected}; the seller name must be the cooperative's (documents are sent in its name only): an "
        f"activity's own name belongs in BT-28 seller trading name ({_TRADING_NAME_FIELD[prepared.kind]})"
        for stated in prepared.seller_names
        if not same_legal_name(stated.value, legal_name)
    )
