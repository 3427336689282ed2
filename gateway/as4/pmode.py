"""The Peppol P-Mode as one frozen policy object, and the receiver's checks of an eb:UserMessage against it.

A P-Mode (ebMS3 Core §4) is the agreement both MSHs apply to a message: MEP, roles, agreement, MPC, service
and the security of the leg. Peppol has exactly one, fixed by the profile (peppol-as4.md §1, §3, §6; phase4
``PeppolPMode``): One-Way/Push, AgreementRef ``…:tia:ap_provider``, initiator → responder, the default MPC,
Service type ``cenbii-procid-ubl``, SOAP 1.2, the CEF 1.14 algorithms. The receiver refuses anything else.

Error codes (ebMS3 Core §6.7.1, peppol-as4.md §7.3):

* a header value that contradicts the P-Mode (AgreementRef, Roles, MPC, Service type) -> **EBMS:0010**
  ProcessingModeMismatch: "the ebMS header … is not compatible with the expected content, based on the
  associated P-Mode";
* a header that is not a valid ebMS header (Timestamp not an xsd:dateTime or in the future, a MessageId
  that is not an RFC 2822 msg-id, SOAP 1.1, processing instructions) -> **EBMS:0009** InvalidHeader:
  "not well formed … or does not conform to the ebMS packaging rules".
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
from gateway.xmlcore import string_value

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

#: RFC 2822 §3.6.4 msg-id without its angle brackets (ebMS3 Core §5.2.2.1: eb:MessageId "MUST NOT include
#: these delimiters"): id-left "@" id-right, where id-left is a dot-atom-text or a quoted string and id-right
#: a dot-atom-text or a domain literal (no-fold-quote, no-fold-literal; quoted pairs printable only).
_ATEXT: Final = r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]"
_DOT_ATOM: Final = rf"{_ATEXT}+(?:\.{_ATEXT}+)*"
_QUOTED_PAIR: Final = r"\\[\x21-\x7e]"
_ID_LEFT: Final = rf"(?:{_DOT_ATOM}|\"(?:[\x21\x23-\x5b\x5d-\x7e]|{_QUOTED_PAIR})*\")"
_ID_RIGHT: Final = rf"(?:{_DOT_ATOM}|\[(?:[\x21-\x5a\x5e-\x7e]|{_QUOTED_PAIR})*\])"
_MSG_ID: Final = re.compile(rf"{_ID_LEFT}@{_ID_RIGHT}", re.ASCII)
_MSG_ID_LEFT_ONLY: Final = re.compile(_ID_LEFT, re.ASCII)


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
        message_id_without_domain: accept an eb:MessageId that is only an RFC 2822 id-left, without
            ``@`` and id-right. peppol-as4.md §3 and §14 item 2: a .NET sender omits it (vector
            ``test-2023-03-15.xml``; Oxalis-AS4#5) and the profile asks to be lenient on input, so True.
            Every other departure from the msg-id form (blanks, controls, angle brackets, an empty side,
            two ``@``) is refused either way.
    """

    agreement_ref: str = AGREEMENT_REF
    initiator_role: str = ROLE_INITIATOR
    responder_role: str = ROLE_RESPONDER
    mpc: str = DEFAULT_MPC
    service_type: str = SERVICE_TYPE
    soap_media_type: str = SOAP_CONTENT_TYPE
    max_future_skew: timedelta = timedelta(minutes=10)
    security: SecurityPolicy = field(default=PEPPOL_POLICY)
    message_id_without_domain: bool = True


#: The one P-Mode of the Peppol network.
PEPPOL_PMODE: Final = PeppolPMode()


def _text(el: etree._Element | None) -> str:
    return string_value(el).strip() if el is not None else ""


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


def check_message_id(value: str, *, pmode: PeppolPMode = PEPPOL_PMODE) -> None:
    """Refuse an eb:MessageId that is not an RFC 2822 msg-id ``left@right`` (ebMS3 Core §5.2.2.1), EBMS:0009.

    ``value`` is the element's text with surrounding blanks trimmed. A bare id-left passes when
    ``pmode.message_id_without_domain`` (the default, see :class:`PeppolPMode`).

    Raises:
        RemoteProtocolError: EBMS:0009 InvalidHeader.
    """
    if _MSG_ID.fullmatch(value) is not None:
        return
    if pmode.message_id_without_domain and _MSG_ID_LEFT_ONLY.fullmatch(value) is not None:
        return
    raise RemoteProtocolError(EbmsError.INVALID_HEADER, "eb:MessageId is not an RFC 2822 msg-id (left@right)")


def check_user_message(user_message: etree._Element, *, pmode: PeppolPMode, at: datetime) -> None:
    """Check the P-Mode values of an eb:UserMessage whose structure was already read.

    Call on the authenticated header (after the signature over eb:Messaging verified), so that a tampered
    value is reported as the signature failure it is.

    Args:
        user_message: the eb:UserMessage element.
        pmode: the P-Mode in force.
        at: our clock (eb:Timestamp may not lie more than ``pmode.max_future_skew`` after it).

    Raises:
        RemoteProtocolError: EBMS:0010 for a value the P-Mode does not allow, EBMS:0009 for a Timestamp
            or a MessageId.
    """
    check_message_id(_text(user_message.find(f"{_EB}MessageInfo/{_EB}MessageId")), pmode=pmode)
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
