"""Fixed values of the Peppol AS4 profile 2.0 (peppol-as4.md §2-§3, §6.1)."""

from __future__ import annotations

from typing import Final

from gateway.xmlcore import NS

SOAP_NS: Final = NS["S12"]
EB_NS: Final = NS["eb"]
WSSE_NS: Final = NS["wsse"]
WSSE11_NS: Final = NS["wsse11"]
WSU_NS: Final = NS["wsu"]
DS_NS: Final = NS["ds"]
XENC_NS: Final = NS["xenc"]
XENC11_NS: Final = NS["xenc11"]
EBBP_NS: Final = NS["ebbp"]

#: Prefixes we write (phase4 style); the SOAP prefix goes into every InclusiveNamespaces PrefixList.
SOAP_PREFIX: Final = "S12"
OUT_NSMAP: Final = {
    "S12": SOAP_NS,
    "eb": EB_NS,
    "wsse": WSSE_NS,
    "wsse11": WSSE11_NS,
    "wsu": WSU_NS,
    "ds": DS_NS,
    "ec": NS["ec"],
    "xenc": XENC_NS,
    "xenc11": XENC11_NS,
    "ebbp": EBBP_NS,
}

SOAP_CONTENT_TYPE: Final = "application/soap+xml"
SIGNAL_CONTENT_TYPE: Final = "application/soap+xml;charset=UTF-8"

PARTY_ID_TYPE: Final = "urn:fdc:peppol.eu:2017:identifiers:ap"
ROLE_INITIATOR: Final = "http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/initiator"
ROLE_RESPONDER: Final = "http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/responder"
AGREEMENT_REF: Final = "urn:fdc:peppol.eu:2017:agreements:tia:ap_provider"
SERVICE_TYPE: Final = "cenbii-procid-ubl"
PARTICIPANT_PROPERTY_TYPE: Final = "iso6523-actorid-upis"
PROP_ORIGINAL_SENDER: Final = "originalSender"
PROP_FINAL_RECIPIENT: Final = "finalRecipient"
DEFAULT_MPC: Final = "http://docs.oasis-open.org/ebxml-msg/ebms/v3.0/ns/core/200704/defaultMPC"
#: Seat ID pattern enforced by phase4 since 2026-02 (peppol-as4.md §14 item 13).
SEAT_ID_PATTERN: Final = r"P[A-Z]{2}[0-9]{6}"

BST_ENCODING_BASE64: Final = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"
)
BST_VALUE_X509V3: Final = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3"
)
TOKEN_TYPE_ENCRYPTED_KEY: Final = (
    "http://docs.oasis-open.org/wss/oasis-wss-soap-message-security-1.1#EncryptedKey"  # noqa: S105 - a URI
)
ENC_TYPE_ATTACHMENT_CONTENT_ONLY: Final = (
    "http://docs.oasis-open.org/wss/oasis-wss-SwAProfile-1.1#Attachment-Content-Only"
)

GZIP_MIME: Final = "application/gzip"
#: zlib level of the payload we compress (:mod:`gateway.as4.compression`). 6, zlib's default, was the
#: largest cost of building a 1 MB message; 3 is as fast as 1 on XML and compresses a little better.
GZIP_LEVEL: Final = 3
OCTET_STREAM: Final = "application/octet-stream"
XML_MIME: Final = "application/xml"

#: Cap on the decompressed payload (gzip bombs, phase4#318); callers may lower or raise it.
DEFAULT_MAX_PAYLOAD_BYTES: Final = 100 * 1024 * 1024
#: Cap on the whole HTTP body we parse.
DEFAULT_MAX_BODY_BYTES: Final = 150 * 1024 * 1024
#: Cap on the SOAP envelope part.
MAX_SOAP_BYTES: Final = 2 * 1024 * 1024
