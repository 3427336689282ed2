"""Peppol reporting values (peppol-as4.md §11): the per-transmission record and the monthly TSR and EUSR
figures computed from them.

Pure values and functions: the store keeps ``Transmission`` rows, ``transaction_statistics`` and
``end_user_statistics`` aggregate one month of them, and ``gateway.ubl.reporting`` writes the XML.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Final

from gateway.errors import InvalidIdentifier
from gateway.model.identifiers import ParticipantID, enterprise_key_of
from gateway.model.responses import MLS_DOCUMENT_TYPE

#: Transport profile of every Peppol AS4 message (Peppol AS4 profile 2.x).
AS4_TRANSPORT_PROFILE: Final = "peppol-transport-as4-v2_0"
#: SBDH COUNTRY_C1 missing on an inbound message: TSR spec "ZZ" (unknown country).
UNKNOWN_COUNTRY: Final = "ZZ"

_MONTH = re.compile(r"^([0-9]{4})-(0[1-9]|1[0-2])$")


class ReportKind(StrEnum):
    """The two monthly reports."""

    TSR = "tsr"
    """Transaction Statistics Report 1.0."""
    EUSR = "eusr"
    """End User Statistics Report 1.1."""


class TransmissionDirection(StrEnum):
    """Direction of a counted transmission, from this access point's point of view."""

    OUTGOING = "outgoing"
    INCOMING = "incoming"


@dataclass(frozen=True, slots=True, order=True)
class ReportMonth:
    """A calendar month (the report period)."""

    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> ReportMonth:
        """Parse ``YYYY-MM``.

        Raises:
            ValueError: another form.
        """
        found = _MONTH.match(text.strip())
        if found is None:
            raise ValueError(f"month {text!r} is not of the form YYYY-MM")
        return cls(int(found.group(1)), int(found.group(2)))

    @classmethod
    def of(cls, day: date) -> ReportMonth:
        """The month holding ``day``."""
        return cls(day.year, day.month)

    @property
    def start(self) -> date:
        """First day of the month."""
        return date(self.year, self.month, 1)

    @property
    def end(self) -> date:
        """Last day of the month (ReportPeriod/EndDate is inclusive)."""
        return date(self.year, self.month, calendar.monthrange(self.year, self.month)[1])

    def previous(self) -> ReportMonth:
        """The month before."""
        return ReportMonth(self.year - 1, 12) if self.month == 1 else ReportMonth(self.year, self.month - 1)

    def next(self) -> ReportMonth:
        """The month after."""
        return ReportMonth(self.year + 1, 1) if self.month == 12 else ReportMonth(self.year, self.month + 1)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


def end_user_key(participant: ParticipantID) -> str:
    """The normalised end-user identity used to count DISTINCT end users (EUSR).

    Participant ids compare case-insensitively; the Belgian VAT number ``9925:BE0123456789`` and the
    enterprise number ``0208:0123456789`` name the same enterprise (peppol-commons 12.8.1), so both become
    ``0208:0123456789`` (``ParticipantID.enterprise_key``).
    """
    return participant.enterprise_key


#: The country codes the TSR Schematron accepts (``cl_iso3166`` of TSR 1.0.5: ISO 3166-1 alpha-2 with EL, XI,
#: XK, 1A and ZZ). Any other code in a report is fatal (SCH-TSR-20): the month's report would not be sent.
_REPORT_COUNTRY_LIST: Final = (
    "1A AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR "
    "BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC "
    "EE EG EH EL ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY "
    "HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA "
    "LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY "
    "MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS "
    "RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM "
    "TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS XI XK YE YT ZA ZM ZW ZZ "
)
_REPORT_COUNTRIES: Final = frozenset(_REPORT_COUNTRY_LIST.split())
#: The EUSR's list: the same without ``ZZ`` (SCH-EUSR-30). Our end users' country is always ours (C1 when we
#: send, C4 when we receive), so the setting ``as4.country_c1`` must be one of these.
END_USER_COUNTRIES: Final = _REPORT_COUNTRIES - {UNKNOWN_COUNTRY}


def country_code(text: str | None, *, default: str = UNKNOWN_COUNTRY) -> str:
    """A country code of the reports' code list in upper case, or ``default`` when missing, malformed or not
    in that list (a sender's COUNTRY_C1 ``UK`` is two letters, but no ISO 3166 code)."""
    value = (text or "").strip().upper()
    return value if value in _REPORT_COUNTRIES else default


@dataclass(frozen=True, slots=True)
class Transmission:
    """What the reports need about one AS4 business message sent or received (peppol-as4.md §11).

    Attributes:
        at: AS4 Timestamp (else SBDH CreationDateAndTime), aware UTC.
        direction: outgoing (we are C2) or incoming (we are C3).
        other_seat: the other access point's Seat ID (CN of its certificate, e.g. ``POP000002``).
        document_type_scheme / document_type: the document type id (``busdox-docid-qns`` + value).
        process_scheme / process: the process id (``cenbii-procid-ubl`` + value).
        transport_profile: the AS4 profile id.
        c1_country: country of the sending end user (SBDH COUNTRY_C1; ``ZZ`` if missing inbound).
        c4_country: country of the receiving end user.
        end_user: our end user's normalised identity (C1 outgoing, C4 incoming); never sent.
        message_id: the AS4 message id (one record per message).
    """

    at: datetime
    direction: TransmissionDirection
    other_seat: str
    document_type_scheme: str
    document_type: str
    process_scheme: str
    process: str
    transport_profile: str
    c1_country: str
    c4_country: str
    end_user: str
    message_id: str

    def __post_init__(self) -> None:
        if self.at.tzinfo is None:
            raise ValueError("a transmission time must be timezone-aware")
        if not self.other_seat:
            raise InvalidIdentifier("the other access point's Seat ID is empty")


@dataclass(frozen=True, slots=True, order=True)
class TSRSubtotal:
    """One TSR subtotal line; ``keys`` are (metaSchemeID, schemeID, value) in document order."""

    kind: str
    keys: tuple[tuple[str, str, str], ...]
    incoming: int
    outgoing: int


@dataclass(frozen=True, slots=True)
class TransactionStatistics:
    """The TSR figures of one month."""

    month: ReportMonth
    reporter_seat: str
    incoming: int
    outgoing: int
    subtotals: tuple[TSRSubtotal, ...]


@dataclass(frozen=True, slots=True, order=True)
class EUSRSubset:
    """One EUSR subset line: distinct end users sending, receiving, and either."""

    kind: str
    keys: tuple[tuple[str, str, str], ...]
    sending: int
    receiving: int
    sending_or_receiving: int


@dataclass(frozen=True, slots=True)
class EndUserStatistics:
    """The EUSR figures of one month."""

    month: ReportMonth
    reporter_seat: str
    sending: int
    receiving: int
    sending_or_receiving: int
    subsets: tuple[EUSRSubset, ...]


def _dt(t: Transmission) -> tuple[str, str, str]:
    return ("DT", t.document_type_scheme, t.document_type)


def _pr(t: Transmission) -> tuple[str, str, str]:
    return ("PR", t.process_scheme, t.process)


def _in_month(month: ReportMonth, transmissions: Iterable[Transmission]) -> list[Transmission]:
    return [_as_reported(t) for t in transmissions if month.start <= t.at.date() <= month.end]


def _as_reported(t: Transmission) -> Transmission:
    """``t`` with its countries and end user as the current rules record them (``country_code``,
    ``end_user_key``): a row recorded by an earlier release (a ``UK`` country, a ``9925:be1…`` end user)
    would otherwise make a month's report invalid, or count one enterprise twice, and a stored report is
    never made again."""
    c1, c4 = country_code(t.c1_country), country_code(t.c4_country)
    end_user = enterprise_key_of(t.end_user)
    if (c1, c4, end_user) == (t.c1_country, t.c4_country, t.end_user):
        return t
    return replace(t, c1_country=c1, c4_country=c4, end_user=end_user)


def transaction_statistics(
    month: ReportMonth, reporter_seat: str, transmissions: Iterable[Transmission]
) -> TransactionStatistics:
    """Aggregate the TSR of ``month`` (transmissions outside it are ignored; times are UTC).

    Subtotals: ``PerTP``, ``PerSP-DT-PR`` and, for incoming transmissions, ``PerSP-DT-PR-CC`` (SenderCountry
    = C1, ReceiverCountry = C4): the ones TSR 1.0 requires (SCH-TSR-03/07/11) and no others (SCH-TSR-39).
    """
    counted = _in_month(month, transmissions)
    groups: dict[tuple[str, tuple[tuple[str, str, str], ...]], list[int]] = {}
    for t in counted:
        sp = ("SP", "CertSubjectCN", t.other_seat)
        cc = (("CC", "SenderCountry", t.c1_country), ("CC", "ReceiverCountry", t.c4_country))
        lines = [
            ("PerTP", (("TP", "Peppol", t.transport_profile),)),
            ("PerSP-DT-PR", (sp, _dt(t), _pr(t))),
        ]
        if t.direction is TransmissionDirection.INCOMING:
            # SCH-TSR-43: the per-country subtotal counts incoming transmissions only (the C4 country of
            # what we send "cannot be gathered"), so its Outgoing is always 0.
            lines.append(("PerSP-DT-PR-CC", (sp, _dt(t), _pr(t), *cc)))
        for kind, keys in lines:
            counts = groups.setdefault((kind, keys), [0, 0])
            counts[0 if t.direction is TransmissionDirection.INCOMING else 1] += 1
    order = {"PerTP": 0, "PerSP-DT-PR": 1, "PerSP-DT-PR-CC": 2}
    subtotals = sorted(
        (TSRSubtotal(kind, keys, inc, out) for (kind, keys), (inc, out) in groups.items()),
        key=lambda s: (order[s.kind], s.keys),
    )
    incoming = sum(1 for t in counted if t.direction is TransmissionDirection.INCOMING)
    return TransactionStatistics(month, reporter_seat, incoming, len(counted) - incoming, tuple(subtotals))


def _subset(kind: str, keys: tuple[tuple[str, str, str], ...], rows: list[Transmission]) -> EUSRSubset:
    sending = {t.end_user for t in rows if t.direction is TransmissionDirection.OUTGOING}
    receiving = {t.end_user for t in rows if t.direction is TransmissionDirection.INCOMING}
    return EUSRSubset(kind, keys, len(sending), len(receiving), len(sending | receiving))


def _end_user_country(t: Transmission) -> str:
    # Our end user is C1 when we send and C4 when we receive.
    return t.c1_country if t.direction is TransmissionDirection.OUTGOING else t.c4_country


def end_user_statistics(
    month: ReportMonth, reporter_seat: str, transmissions: Iterable[Transmission]
) -> EndUserStatistics:
    """Aggregate the EUSR of ``month``: DISTINCT normalised end users (``Transmission.end_user``).

    Subsets ``PerDT-PR``, ``PerDT-PR-EUC``, ``PerDT-EUC`` and ``PerEUC`` (EndUserCountry: C1 for sending,
    C4 for receiving end users). An end user who sends and receives counts once in SendingOrReceiving. MLS
    messages are not counted here (their sender and receiver are access points).
    """
    # An MLS is between access points, not end users (its party is our SPID): TSR only (SPOG on MLS).
    mls = (MLS_DOCUMENT_TYPE.scheme, MLS_DOCUMENT_TYPE.value)
    counted = [t for t in _in_month(month, transmissions) if (t.document_type_scheme, t.document_type) != mls]
    groups: dict[tuple[str, tuple[tuple[str, str, str], ...]], list[Transmission]] = {}
    for t in counted:
        euc = ("CC", "EndUserCountry", _end_user_country(t))
        for kind, keys in (
            ("PerDT-PR", (_dt(t), _pr(t))),
            ("PerDT-PR-EUC", (_dt(t), _pr(t), euc)),
            ("PerDT-EUC", (_dt(t), euc)),
            ("PerEUC", (euc,)),
        ):
            groups.setdefault((kind, keys), []).append(t)
    order = {"PerDT-PR": 0, "PerDT-PR-EUC": 1, "PerDT-EUC": 2, "PerEUC": 3}
    subsets = sorted(
        (_subset(kind, keys, rows) for (kind, keys), rows in groups.items()),
        key=lambda s: (order[s.kind], s.keys),
    )
    full = _subset("FullSet", (), counted)
    return EndUserStatistics(
        month, reporter_seat, full.sending, full.receiving, full.sending_or_receiving, tuple(subsets)
    )


class ReportStatus(StrEnum):
    """Where a stored report stands; its delivery is then the outbound document's status."""

    STORED = "stored"
    """Valid and kept, not queued (reporting disabled, or not the production stage)."""
    INVALID = "invalid"
    """The official rules found a fatal error: kept as the record of it, never sent."""
    QUEUED = "queued"
    """Queued as an outbound document to the reporting receiver (see ``outbound_document_id``)."""


@dataclass(frozen=True, slots=True)
class StoredReport:
    """A monthly report as stored (table ``peppol_reports``; one per month and kind).

    Attributes:
        id: UUID string.
        month: the report period.
        kind: TSR or EUSR.
        xml: the report document.
        validation_report: the validation report (JSON) under the official XSD + Schematron.
        status: see ``ReportStatus``.
        created_at: when it was built (aware UTC).
        outbound_document_id: the outbound document carrying it, once queued.
    """

    id: str
    month: ReportMonth
    kind: ReportKind
    xml: bytes
    validation_report: dict[str, Any]
    status: ReportStatus
    created_at: datetime
    outbound_document_id: str | None = None
