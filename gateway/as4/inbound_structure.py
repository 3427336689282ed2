"""The structure of a received AS4 message (peppol-as4.md §13 #1): HTTP body -> SOAP envelope and attachments.

multipart/related with a SOAP 1.2 root part (or a bare SOAP 1.2 envelope), a hardened parse of the
envelope, one eb:Messaging with one UserMessage, and every other part an attachment with its own
Content-ID. Each failure is a :class:`RemoteProtocolError` naming the ebMS error to answer with.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from lxml import etree

from gateway.as4.constants import DEFAULT_MAX_BODY_BYTES, MAX_SOAP_BYTES
from gateway.as4.ebms_errors import EbmsError
from gateway.as4.envelope import (
    UserMessageHeader,
    read_user_message,
    refuse_processing_instructions,
    split_envelope,
)
from gateway.as4.mime import (
    MAX_HEADER_VALUE,
    MimeError,
    MimePart,
    content_codings,
    header,
    parse_multipart,
    split_content_type,
)
from gateway.as4.pmode import PeppolPMode
from gateway.errors import RemoteProtocolError, XMLInputError
from gateway.xmlcore import parse_xml

#: The public ErrorDetail of EBMS:0009 for a body declared coded: AS4 compresses the payload itself
#: (``CompressionType application/gzip``), the Peppol profile puts no content coding on the HTTP body.
CODED_BODY_REFUSED: Final = "HTTP Content-Encoding is not supported: send the MIME message uncoded"


def declared_coding(headers: Iterable[tuple[str, str]]) -> str | None:
    """The first HTTP content coding (RFC 9110 §8.4) other than ``identity`` that any Content-Encoding field
    of ``headers`` declares, lower-cased and cut to 40 characters; None when the body is declared uncoded.

    Every field counts (a list field: two fields are one list), so a coding cannot hide behind a first
    ``identity``. A body declared coded is refused whether or not it really is: reading it as uncoded would
    take the sender's word for one thing and its bytes for another.
    """
    for name, value in headers:
        if name.lower() == "content-encoding" and (codings := content_codings(value)):
            return codings[0][:40]
    return None


@dataclass(frozen=True, slots=True)
class ReceivedStructure:
    """The parsed envelope of a received message and its attachments (Content-ID -> part).

    The root part is not kept: once parsed, only the attachments (the ciphertext) are needed, and the
    caller empties ``attachments`` after decryption so the ciphertext is not held any longer.
    """

    envelope: etree._Element
    body: etree._Element  # S12:Body
    messaging: etree._Element  # eb:Messaging
    security: etree._Element  # wsse:Security
    user_message: UserMessageHeader
    attachments: dict[str, MimePart]


def _attachments(parts: list[MimePart], root: MimePart) -> dict[str, MimePart]:
    """Content-ID -> part of every part but the root (a helper, so no loop variable keeps a part alive)."""
    attachments: dict[str, MimePart] = {}
    for part in parts:
        if part is root:
            continue
        cid = part.content_id
        if not cid or cid in attachments:
            raise RemoteProtocolError(
                EbmsError.VALUE_INCONSISTENT, "attachment without or with a duplicate Content-ID"
            )
        attachments[cid] = part
    return attachments


def _mime_parts(
    headers: Mapping[str, str], body: bytes, pmode: PeppolPMode
) -> tuple[list[MimePart], MimePart]:
    """Every MIME part of the body and its root (the SOAP envelope)."""
    if len(body) > DEFAULT_MAX_BODY_BYTES:
        raise RemoteProtocolError(EbmsError.INVALID_HEADER, "HTTP body too large")
    content_type = header(headers, "content-type") or ""
    if len(content_type) > MAX_HEADER_VALUE:
        raise RemoteProtocolError(
            EbmsError.INVALID_HEADER, f"Content-Type is longer than {MAX_HEADER_VALUE} bytes"
        )
    media, params = split_content_type(content_type)
    # SOAP 1.2 only (peppol-as4.md §2, §13 #1): ``text/xml`` is SOAP 1.1 (RFC 3902 §1), refused as EBMS:0009
    # for the request, the multipart ``type`` parameter (RFC 2387 §3.1) and the root part alike.
    soap = pmode.soap_media_type
    try:
        if media == "multipart/related":
            if params.get("type", soap).strip().lower() != soap:
                raise MimeError(f"multipart type {params.get('type')!r} is not {soap}")
            parts, root = parse_multipart(content_type, bytes(body))
        elif media == soap:
            root = MimePart({"content-type": content_type}, bytes(body))
            parts = [root]
        else:
            raise MimeError(f"Content-Type {media!r} is not multipart/related")
    except MimeError as exc:
        raise RemoteProtocolError(EbmsError.INVALID_HEADER, f"MIME: {exc}") from exc
    if root.content_type not in (soap, ""):
        raise RemoteProtocolError(EbmsError.INVALID_HEADER, f"root part is {root.content_type}, not SOAP 1.2")
    return parts, root


def read_structure(
    headers: Mapping[str, str], body: bytes, pmode: PeppolPMode, message_id_box: list[str]
) -> ReceivedStructure:
    """Split and parse a received message; its eb:MessageId is appended to ``message_id_box`` once read.

    Raises:
        RemoteProtocolError: not a multipart/related SOAP 1.2 message with one UserMessage, or an
            attachment without or with a duplicate Content-ID.
    """
    parts, root = _mime_parts(headers, body, pmode)
    try:
        envelope = parse_xml(root.body, max_bytes=MAX_SOAP_BYTES, what="SOAP envelope")
    except XMLInputError as exc:
        raise RemoteProtocolError(EbmsError.INVALID_HEADER, str(exc)) from exc
    refuse_processing_instructions(envelope)
    _, body_el, messaging, security = split_envelope(envelope)
    user_message = read_user_message(messaging)
    message_id_box.append(user_message.message_id)
    return ReceivedStructure(envelope, body_el, messaging, security, user_message, _attachments(parts, root))
