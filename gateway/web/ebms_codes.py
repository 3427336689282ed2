"""Plain words for the ebMS error codes (ebMS 3.0 Core §6.7.1, AS4 §5.2) and the discovery outcomes a
failed delivery names, for support staff who ask "why was it not delivered?"."""

from __future__ import annotations

import re
from typing import Final

EBMS_ERRORS: Final = {
    "EBMS:0001": "The receiving access point did not recognise a value in our message header.",
    "EBMS:0002": "The receiving access point does not support a feature our message uses.",
    "EBMS:0003": "Values in our message header are inconsistent with each other.",
    "EBMS:0004": "The receiving access point refused the message for another reason (see the description).",
    "EBMS:0005": "The receiving access point could not be reached (connection failure).",
    "EBMS:0006": "The receiving access point had nothing to deliver on the pulled channel.",
    "EBMS:0007": "The MIME structure of our message was not understood.",
    "EBMS:0008": "A feature of our message cannot be processed by the receiver.",
    "EBMS:0009": "The receiver found our message header invalid or too large.",
    "EBMS:0010": "Our message does not match the receiver's processing mode (P-Mode).",
    "EBMS:0011": "A payload of our message could not be read by the receiver.",
    "EBMS:0101": "The receiver could not verify our signature (authentication failed).",
    "EBMS:0102": "The receiver could not decrypt our message (often: it changed its certificate).",
    "EBMS:0103": "Our message does not comply with the receiver's security policy.",
    "EBMS:0202": "The receiver accepted the message but could not deliver it to its customer.",
    "EBMS:0301": "No receipt came back from the receiver.",
    "EBMS:0302": "The receipt that came back was not valid.",
    "EBMS:0303": "The receiver could not decompress the payload.",
    "PEPPOL:NOT_SERVICED": "The receiving access point does not serve this participant.",
}

DISCOVERY_OUTCOMES: Final = {
    "not-registered": "The receiver is not registered in the Peppol network (SML/SMP).",
    "document-type-not-supported": "The receiver does not accept this kind of document over Peppol.",
    "process-not-supported": "The receiver does not accept this business process.",
    "no-as4-endpoint": "The receiver's access point publishes no AS4 endpoint.",
    "endpoint-not-active": "The receiver's published endpoint is not (or no longer) active.",
    "bad-smp-signature": "The receiver's service metadata carries an invalid signature.",
    "bad-smp-response": "The receiver's service metadata publisher answered something unreadable.",
    "endpoint-certificate-rejected": "The receiver's access point certificate is not trusted.",
    "sml-unreachable": "The Peppol directory (SML) could not be reached; the gateway retries.",
    "smp-unreachable": "The receiver's service metadata publisher could not be reached; the gateway retries.",
}

_CODE = re.compile(r"(EBMS:\d{4}|PEPPOL:[A-Z_]+)")


def ebms_code_of(text: str | None) -> str | None:
    """The first ebMS error code named in ``text``."""
    found = _CODE.search(text or "")
    return found.group(1) if found else None


def plain_reason(reason: str | None, code: str | None = None) -> str | None:
    """What a status reason means in plain words, or None when we have no wording for it."""
    code = code or ebms_code_of(reason)
    if code and code in EBMS_ERRORS:
        return EBMS_ERRORS[code]
    outcome = (reason or "").partition(":")[0].strip()
    return DISCOVERY_OUTCOMES.get(outcome)
