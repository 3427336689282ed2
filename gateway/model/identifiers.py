"""Peppol identifiers (participant, document type, process) and Belgian number checks.

Peppol Policy for use of Identifiers 4.x: participant ids use scheme ``iso6523-actorid-upis`` and are
case-insensitive; document type ids (``busdox-docid-qns``) and process ids (``cenbii-procid-ubl``) are
case-sensitive.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from gateway.errors import InvalidIdentifier

PARTICIPANT_SCHEME: Final = "iso6523-actorid-upis"
DOCTYPE_SCHEME: Final = "busdox-docid-qns"
PROCESS_SCHEME: Final = "cenbii-procid-ubl"

_ICD = re.compile(r"^[0-9]{4}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_BE_VAT = re.compile(r"^be([01][0-9]{9})$")  # KBO/BCE numbers start with 0 or 1


@dataclass(frozen=True, slots=True)
class ParticipantID:
    """A Peppol participant identifier such as ``0208:0123456789``.

    Attributes:
        icd: the 4-digit ISO 6523 ICD / EAS code (``0208`` KBO/BCE, ``9925`` BE VAT).
        value: the identifier within that scheme, as given (comparison ignores case).
    """

    icd: str
    value: str

    def __post_init__(self) -> None:
        if not _ICD.match(self.icd):
            raise InvalidIdentifier(f"participant scheme code {self.icd!r} is not 4 digits").coded(
                "not-four-digits", icd=repr(self.icd)
            )
        if not self.value or len(self.value) > 130 or self.value != self.value.strip():
            raise InvalidIdentifier(f"participant value {self.value!r} is empty, too long or padded").coded(
                "bad-value", value=repr(self.value)
            )
        if _CONTROL.search(self.value):
            raise InvalidIdentifier(f"participant value {self.value!r} contains a control character").coded(
                "control-character", value=repr(self.value)
            )

    @classmethod
    def parse(cls, text: str) -> ParticipantID:
        """Parse ``0208:0123456789`` or ``iso6523-actorid-upis::0208:0123456789``.

        Raises:
            InvalidIdentifier: the text is not of that form.
        """
        text = text.strip()
        if "::" in text:
            scheme, _, text = text.partition("::")
            if scheme.lower() != PARTICIPANT_SCHEME:
                raise InvalidIdentifier(f"participant scheme {scheme!r} is not {PARTICIPANT_SCHEME}").coded(
                    "unknown-scheme", scheme=repr(scheme), known=PARTICIPANT_SCHEME
                )
        icd, sep, value = text.partition(":")
        if not sep:
            raise InvalidIdentifier(f"participant id {text!r} lacks the 'ICD:' prefix").coded(
                "no-prefix", text=repr(text)
            )
        return cls(icd, value)

    def __str__(self) -> str:
        return f"{self.icd}:{self.value}"

    @property
    def uri(self) -> str:
        """The identifier with its scheme, ``iso6523-actorid-upis::0208:...``."""
        return f"{PARTICIPANT_SCHEME}::{self}"

    @property
    def key(self) -> str:
        """Case-folded form used for comparison and lookups."""
        return f"{self.icd}:{self.value.lower()}"

    @property
    def enterprise_key(self) -> str:
        """The enterprise this id names, as ``enterprise_key_of`` gives it: ``9925:BE0123456789`` and
        ``0208:0123456789`` both give ``0208:0123456789``."""
        return enterprise_key_of(self.key)

    def same_enterprise(self, other: ParticipantID) -> bool:
        """True when both ids name the same enterprise (``enterprise_key``): equal ids (case-insensitive),
        or a Belgian enterprise's VAT number (``9925``) and its enterprise number (``0208``)."""
        return self.enterprise_key == other.enterprise_key

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ParticipantID) and self.key == other.key

    def __hash__(self) -> int:
        return hash(self.key)


def enterprise_key_of(key: str) -> str:
    """The enterprise named by a participant's case-folded key (``ParticipantID.key``, as rows store it).

    Participant ids compare case-insensitively; the Belgian VAT number ``9925:BE0123456789`` and the
    enterprise number ``0208:0123456789`` name the same enterprise (peppol-commons 12.8.1), so both become
    ``0208:0123456789``. Any other key is returned as it is.
    """
    icd, _, value = key.partition(":")
    found = _BE_VAT.match(value) if icd == "9925" else None
    return f"0208:{found.group(1)}" if found is not None else key


EMAIL_SCHEME: Final = "EM"
"""EAS code "Electronic mail (SMTP)": BT-49 of a buyer reached by e-mail only (a private person)."""
EMAIL_MAX_LENGTH: Final = 190
"""Longest e-mail receiver address kept (the store's receiver column holds ``EM:`` + the address)."""
EMAIL_RULE: Final = f"local@domain, ASCII only (no SMTPUTF8), at most {EMAIL_MAX_LENGTH} characters"
"""What ``is_email_address`` accepts, for the messages that refuse an address."""
# A pragmatic address check (RFC 5321 §4.1.2 local@domain, no spaces, control characters, angle brackets or
# separators: PostgreSQL cannot compare a text holding a NUL); the
# relay has the last word (a 5xx reply fails the document with its reason). ASCII only: a non-ASCII local
# part needs SMTPUTF8 (RFC 6531), which the SMTP adapter does not speak (it refuses such an address at send
# time), and an internationalised domain is written in its xn-- form. Matched in full: ``$`` would accept a
# final line break.
_EMAIL = re.compile(r"[^@\s<>,;\"\x00-\x1f\x7f]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}")


def is_email_syntax(text: str) -> bool:
    """True when ``text`` is one ``local@domain`` address in any script (no display name, no list), at most
    ``EMAIL_MAX_LENGTH`` characters: what a stored document's BT-58 is tried with (``is_email_address``
    decides at submission)."""
    return len(text) <= EMAIL_MAX_LENGTH and _EMAIL.fullmatch(text) is not None


def is_email_address(text: str) -> bool:
    """True when ``text`` is one ``local@domain`` address the gateway can e-mail: ``is_email_syntax`` and
    ASCII (the SMTP adapter speaks no SMTPUTF8)."""
    return text.isascii() and is_email_syntax(text)


@dataclass(frozen=True, slots=True)
class EmailReceiver:
    """A receiver outside Peppol, reached only by e-mail: BT-49 with EAS scheme ``EM`` (a private person).

    It takes a Peppol participant id's place on an outbound document: ``str()`` gives ``EM:<address>``, the
    form the store and the API show, and the delivery worker e-mails it without any SML/SMP lookup.

    Attributes:
        address: the e-mail address, as given (comparison ignores case).
    """

    address: str

    def __post_init__(self) -> None:
        if not is_email_address(self.address):
            raise InvalidIdentifier(f"{self.address!r} is not one e-mail address {EMAIL_RULE}")

    @classmethod
    def stored(cls, address: str) -> EmailReceiver:
        """The receiver of a stored document, taken as written: before the ASCII rule a non-ASCII address
        was accepted, and its document must still read (the SMTP adapter refuses it with its reason)."""
        receiver = object.__new__(cls)
        object.__setattr__(receiver, "address", address)
        return receiver

    def __str__(self) -> str:
        return f"{EMAIL_SCHEME}:{self.address}"

    @property
    def key(self) -> str:
        """Case-folded form used for comparison and lookups."""
        return f"{EMAIL_SCHEME}:{self.address.lower()}"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, EmailReceiver) and self.key == other.key

    def __hash__(self) -> int:
        return hash(self.key)


Receiver = ParticipantID | EmailReceiver
"""Whom an outbound document goes to: a Peppol participant, or an e-mail address outside Peppol."""


def parse_receiver(text: str, *, stored: bool = False) -> Receiver:
    """Parse a stored or searched receiver: ``EM:<address>``, else a Peppol participant id.

    Args:
        text: the receiver.
        stored: read from the store: an ``EM:`` address is taken as written (``EmailReceiver.stored``).

    Raises:
        InvalidIdentifier: neither form.
    """
    scheme, sep, value = text.strip().partition(":")
    if sep and scheme.upper() == EMAIL_SCHEME:
        return EmailReceiver.stored(value) if stored else EmailReceiver(value)
    return ParticipantID.parse(text)


def parse_searched_receiver(text: str) -> Receiver:
    """Parse a receiver searched for among stored documents (the API's and the pages' filters): as
    ``parse_receiver``, but an ``EM:`` address in any script (``is_email_syntax``): a document stored before
    the ASCII rule keeps such a receiver, and is still found by it.

    Raises:
        InvalidIdentifier: neither form.
    """
    scheme, sep, value = text.strip().partition(":")
    if sep and scheme.upper() == EMAIL_SCHEME and is_email_syntax(value):
        return EmailReceiver.stored(value)
    return parse_receiver(text)


@dataclass(frozen=True, slots=True)
class DocumentTypeID:
    """A Peppol document type identifier (scheme ``busdox-docid-qns`` by default)."""

    value: str
    scheme: str = DOCTYPE_SCHEME

    @classmethod
    def parse(cls, text: str) -> DocumentTypeID:
        """Parse a value with or without its ``scheme::`` prefix (surrounding blanks are trimmed)."""
        text = text.strip()
        if text.startswith(DOCTYPE_SCHEME + "::") or text.startswith("peppol-doctype-wildcard::"):
            scheme, _, value = text.partition("::")
            return cls(value, scheme)
        if not text:
            raise InvalidIdentifier("empty document type identifier")
        return cls(text)

    @property
    def uri(self) -> str:
        return f"{self.scheme}::{self.value}"

    @property
    def root_namespace(self) -> str:
        """The namespace of the payload root element (before ``::``)."""
        return self.value.split("::", 1)[0]

    @property
    def root_name(self) -> str:
        """The local name of the payload root element (between ``::`` and ``##``)."""
        return self.value.split("::", 1)[1].split("##", 1)[0] if "::" in self.value else ""

    @property
    def customization_id(self) -> str:
        """The CustomizationID part (between ``##`` and the final ``::version``)."""
        rest = self.value.split("##", 1)[1] if "##" in self.value else ""
        return rest.rsplit("::", 1)[0]

    @property
    def version(self) -> str:
        return self.value.rsplit("::", 1)[1] if "::" in self.value else ""

    def __str__(self) -> str:
        return self.uri


@dataclass(frozen=True, slots=True)
class ProcessID:
    """A Peppol process identifier (scheme ``cenbii-procid-ubl`` by default)."""

    value: str
    scheme: str = PROCESS_SCHEME

    @classmethod
    def parse(cls, text: str) -> ProcessID:
        text = text.strip()
        if "::" in text:
            scheme, _, value = text.partition("::")
            return cls(value, scheme)
        if not text:
            raise InvalidIdentifier("empty process identifier")
        return cls(text)

    @property
    def uri(self) -> str:
        return f"{self.scheme}::{self.value}"

    def __str__(self) -> str:
        return self.uri


BIS_BILLING_CUSTOMIZATION: Final = (
    "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0"
)
BIS_BILLING_PROFILE: Final = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"
BIS_INVOICE: Final = DocumentTypeID(
    "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2::Invoice##" + BIS_BILLING_CUSTOMIZATION + "::2.1"
)
BIS_CREDIT_NOTE: Final = DocumentTypeID(
    "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2::CreditNote##"
    + BIS_BILLING_CUSTOMIZATION
    + "::2.1"
)
BIS_BILLING_PROCESS: Final = ProcessID(BIS_BILLING_PROFILE)
INVOICE_RESPONSE: Final = DocumentTypeID(
    "urn:oasis:names:specification:ubl:schema:xsd:ApplicationResponse-2::ApplicationResponse"
    "##urn:fdc:peppol.eu:poacc:trns:invoice_response:3::2.1"
)
INVOICE_RESPONSE_PROCESS: Final = ProcessID("urn:fdc:peppol.eu:poacc:bis:invoice_response:3")


def is_valid_be_enterprise_number(number: str) -> bool:
    """Check a KBO/BCE enterprise number: 10 digits, first 0 or 1, ``97 - (first 8 mod 97)`` = last 2.

    This is the stricter form PEPPOL-COMMON-R043 enforces from BIS 3.0.22.
    """
    if not re.fullmatch(r"[01][0-9]{9}", number):
        return False
    return 97 - int(number[:8]) % 97 == int(number[8:])


def normalise_be_enterprise_number(text: str) -> str:
    """Strip ``BE``, dots, blanks; pad a 9-digit legacy number with a leading 0; check mod 97.

    Raises:
        InvalidIdentifier: not a valid Belgian enterprise number.
    """
    digits = re.sub(r"[\s.\-]", "", text.strip().upper())
    if digits.startswith("BE"):
        digits = digits[2:]
    if re.fullmatch(r"[0-9]{9}", digits):
        digits = "0" + digits
    if not is_valid_be_enterprise_number(digits):
        raise InvalidIdentifier(f"{text!r} is not a valid Belgian enterprise number (KBO/BCE, mod 97)")
    return digits
