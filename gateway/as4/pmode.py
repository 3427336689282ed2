"""The Peppol P-Mode as one frozen policy object, and the receiver's checks of an eb:UserMessage against it.

A P-Mode (ebMS3 Core §4) is the agreement both MSHs apply to a message: MEP, roles, agreement, MPC, service
and the security of the leg. Peppol has exactly one, fixed by the profile (peppol-as4.md §1, §3, §6; phase4
``PeppolPMode``): One-Way/Push, AgreementRef ``…:tia:ap_provider``, initiator → responder, the default MPC,
Service type ``cenbii-procid-ubl``, SOAP 1.2, the CEF 1.14 algorithms. The receiver refuses anything else.

Error codes (ebMS3 Core §6.7.1, peppol-as4.md §7.3):

* a header value that contradicts the P-Mode (AgreementRef, Roles, MPC, Service type) -> **EBMS:0010**
  ProcessingModeMismatch: "the ebMS header … is not compatible with the expected content, based on the
  associated P-Mode";
* a header that is not a valid ebMS header (Timestamp not an xsd:dateTime or in the future, SOAP 1.1,
  processing instructions) -> **EBMS:0009** InvalidHeader: "not well formed … or does not conform to the
  ebMS packaging rules".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Final

from lxml import etree

from gateway.as4.constants import (
    AGREEMENT_REF,
    DEFAULT_MPC,
    EB_NS,
    ROLE_INITIATOR,
    ROLE_RESPONDER,
    SERVICE_TYPE,
    SOAP_CONTENT_TYPE,
)
from gateway.as4.ebms_errors import EbmsError
from gateway.crypto import PEPPOL_POLICY, SecurityPolicy
from gateway.errors import RemoteProtocolError

_EB = f"{{{EB_NS}}}"
_MISMATCH = EbmsError.PROCESSING_MODE_MISMATCH

#: xsd:dateTime lexical space (XML Schema 1.1 Part 2 §3.3.7): any number of fraction digits, an optional
#: ``Z`` or ``±hh:mm`` offset. Lenient on input as peppol-as4.md §3 asks (``+01:00``, 7 fraction digits).
_XSD_DATETIME: Final = re.compile(
    r"(?P<y>-?[0-9]{4,})-(?P<mo>[0-9]{2})-(?P<d>[0-9]{2})"
    r"T(?P<h>[0-9]{2}):(?P<mi>[0-9]{2}):(?P<s>[0-9]{2})(?:\.(?P<f>[0-9]+))?"
    r"(?P<tz>Z|[+-][0-9]{2}:[0-9]{2})?",
    re.ASCII,
)


@dataclass(frozen=True, slots=True)
class PeppolPMode:
    """The values a Peppol UserMessage must carry (peppol-as4.md §3) and the receiver's tolerances.

    Pick :data:`PEPPOL_PMODE`; build another only in tests.

    Attributes:
        agreement_ref: eb:AgreementRef text; the element carries neither ``@type`` nor ``@pmode``.
        initiator_role / responder_role: From/Role and To/Role.
        mpc: the only MPC; an absent ``@mpc`` means this one (ebMS3 Core §3.4.1).
        service_type: eb:Service/@type, required.
        soap_media_type: the root part media type (SOAP 1.2, RFC 3902); ``text/xml`` is SOAP 1.1.
        max_future_skew: how far eb:Timestamp may lie after our clock. Peppol has no wsu:Timestamp and
            hence no skew window (peppol-as4.md §6.2); ten minutes absorbs unsynchronised clocks while
            refusing timestamps that cannot be the creation time of the message.
        security: the algorithms and key sizes of the leg (CEF 1.14 §"Security").
    """

    agreement_ref: str = AGREEMENT_REF
    initiator_role: str = ROLE_INITIATOR
    responder_role: str = ROLE_RESPONDER
    mpc: str = DEFAULT_MPC
    service_type: str = SERVICE_TYPE
    soap_media_type: str = SOAP_CONTENT_TYPE
    max_future_skew: timedelta = timedelta(minutes=10)
    security: SecurityPolicy = field(default=PEPPOL_POLICY)


#: The one P-Mode of the Peppol network.
PEPPOL_PMODE: Final = PeppolPMode()


def _text(el: etree._Element | None) -> str:
    return "".join(str(t) for t in el.itertext()).strip() if el is not None else ""


def parse_timestamp(value: str) -> datetime:
    """Read an eb:Timestamp (xsd:dateTime). Without an offset it is UTC (ebMS3 Core §5.2.2.1).

    Raises:
        RemoteProtocolError: EBMS:0009 when ``value`` is not an xsd:dateTime.
    """
    m = _XSD_DATETIME.fullmatch(value.strip())
    if m is None:
        raise RemoteProtocolError(EbmsError.INVALID_HEADER, "eb:Timestamp is not an xsd:dateTime")
    tz = UTC
    if m["tz"] and m["tz"] != "Z":
        sign = -1 if m["tz"][0] == "-" else 1
        hours, minutes = int(m["tz"][1:3]), int(m["tz"][4:6])
        if hours > 14 or minutes > 59 or (hours == 14 and minutes):
            raise RemoteProtocolError(EbmsError.INVALID_HEADER, "eb:Timestamp offset out of range")
        tz = timezone(sign * timedelta(hours=hours, minutes=minutes))
    hour, extra = int(m["h"]), timedelta()
    if hour == 24 and m["mi"] == "00" and m["s"] == "00" and not (m["f"] or "").strip("0"):
        hour, extra = 0, timedelta(days=1)  # 24:00:00 is the first instant of the next day (XSD 1.1)
    fraction = (m["f"] or "0")[:6].ljust(6, "0")
    try:
        return (
            datetime(
                int(m["y"]), int(m["mo"]), int(m["d"]), hour, int(m["mi"]), int(m["s"]), int(fraction), tz
            )
            + extra
        )
    except (ValueError, OverflowError) as exc:
        raise RemoteProtocolError(EbmsError.INVALID_HEADER, "eb:Timestamp is not a valid date-time") from exc


def check_user_message(user_message: etree._Element, *, pmode: PeppolPMode, at: datetime) -> None:
    """Check the P-Mode values of an eb:UserMessage whose structure was already read.

    Call on the authenticated header (after the signature over eb:Messaging verified), so that a tampered
    value is reported as the signature failure it is.

    Args:
        user_message: the eb:UserMessage element.
        pmode: the P-Mode in force.
        at: our clock (eb:Timestamp may not lie more than ``pmode.max_future_skew`` after it).

    Raises:
        RemoteProtocolError: EBMS:0010 for a value the P-Mode does not allow, EBMS:0009 for a Timestamp.
    """
    stamp = parse_timestamp(_text(user_message.find(f"{_EB}MessageInfo/{_EB}Timestamp")))
    if stamp > at + pmode.max_future_skew:
        raise RemoteProtocolError(EbmsError.INVALID_HEADER, "eb:Timestamp lies in the future")
    # ebMS3 Core §5.2.2: no @mpc means the default MPC; Peppol uses only that one (peppol-as4.md §3).
    mpc = user_message.get("mpc")
    if mpc is not None and mpc.strip() != pmode.mpc:
        raise RemoteProtocolError(_MISMATCH, "eb:UserMessage/@mpc is not the default MPC")
    for side, role in (("From", pmode.initiator_role), ("To", pmode.responder_role)):
        roles = user_message.findall(f"{_EB}PartyInfo/{_EB}{side}/{_EB}Role")
        if len(roles) != 1 or _text(roles[0]) != role:
            raise RemoteProtocolError(_MISMATCH, f"{side}/Role is not {role}")
    collaboration = user_message.find(f"{_EB}CollaborationInfo")
    refs = collaboration.findall(f"{_EB}AgreementRef") if collaboration is not None else []
    if len(refs) != 1 or _text(refs[0]) != pmode.agreement_ref:
        raise RemoteProtocolError(_MISMATCH, f"AgreementRef is not {pmode.agreement_ref}")
    if refs[0].get("type") is not None or refs[0].get("pmode") is not None:
        # peppol-as4.md §3: AgreementRef has no @type and no @pmode.
        raise RemoteProtocolError(_MISMATCH, "AgreementRef carries @type or @pmode")
    service = collaboration.find(f"{_EB}Service") if collaboration is not None else None
    if service is None or (service.get("type") or "").strip() != pmode.service_type:
        raise RemoteProtocolError(_MISMATCH, f"Service/@type is not {pmode.service_type}")
