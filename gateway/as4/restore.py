"""Rebuild the ``OutgoingMessage`` of a stored, already serialised UserMessage (sans-IO).

A retry resends the stored bytes (AS4 1.0 §3.2: same MessageId, identical digests) and the worker may
restart between sending and checking the answer, so the values ``verify_receipt`` needs - our MessageId,
the ds:References we signed and the certificate we encrypted to - are read back from those bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from lxml import etree

from gateway.as4.constants import DS_NS, EB_NS, SOAP_NS, WSSE_NS, XENC_NS
from gateway.as4.ebms_errors import EbmsError
from gateway.as4.messages import OutgoingMessage
from gateway.as4.mime import MimeError, header, parse_multipart
from gateway.as4.wss import index_ids, resolve_bst_certificate
from gateway.crypto import exc_c14n
from gateway.errors import LocalProtocolError, RemoteProtocolError, XMLInputError
from gateway.xmlcore import parse_xml, string_value

_EB = f"{{{EB_NS}}}"
_DS = f"{{{DS_NS}}}"


def _text(el: etree._Element | None) -> str:
    return string_value(el).strip() if el is not None else ""


def restore_outgoing(
    headers: Mapping[str, str] | Iterable[tuple[str, str]], body: bytes, *, instance_id: str = ""
) -> OutgoingMessage:
    """Read back what the receipt check needs from a UserMessage we built and stored.

    Args:
        headers: the HTTP headers stored with the message (Content-Type is what matters).
        body: the stored HTTP body, byte-exact.
        instance_id: the SBDH InstanceIdentifier stored beside the message (informational).

    Returns:
        An OutgoingMessage equal, for ``verify_receipt``, to the one the builder returned.

    Raises:
        LocalProtocolError: the stored bytes are not a message this gateway built (corrupted store).
    """
    header_map = dict(headers.items()) if isinstance(headers, Mapping) else dict(headers)
    try:
        _, root_part = parse_multipart(header(header_map, "content-type") or "", body)
        envelope = parse_xml(root_part.body, what="stored SOAP envelope")
        ids = index_ids(envelope)
        hdr = envelope.find(f"{{{SOAP_NS}}}Header")
        if hdr is None:
            raise ValueError("no SOAP header")
        security = hdr.find(f"{{{WSSE_NS}}}Security")
        user_message = hdr.find(f"{_EB}Messaging/{_EB}UserMessage")
        if security is None or user_message is None:
            raise ValueError("no wsse:Security or eb:UserMessage")
        message_id = _text(user_message.find(f"{_EB}MessageInfo/{_EB}MessageId"))
        conversation_id = _text(user_message.find(f"{_EB}CollaborationInfo/{_EB}ConversationId"))
        part_info = user_message.find(f"{_EB}PayloadInfo/{_EB}PartInfo")
        href = (part_info.get("href") or "") if part_info is not None else ""
        references = security.findall(f"{_DS}Signature/{_DS}SignedInfo/{_DS}Reference")
        encrypted_key = security.find(f"{{{XENC_NS}}}EncryptedKey")
        if not message_id or not references or encrypted_key is None or not href.startswith("cid:"):
            raise ValueError("MessageId, signed references, EncryptedKey or PartInfo missing")
        # The certificate we encrypted to is the BST the EncryptedKey points at (builder order, §6.2).
        receiver_certificate = resolve_bst_certificate(encrypted_key.find(f"{_DS}KeyInfo"), ids, security)
    except (MimeError, XMLInputError, RemoteProtocolError, ValueError, etree.LxmlError) as exc:
        raise LocalProtocolError(EbmsError.OTHER, f"stored AS4 message is unreadable: {exc}") from exc
    return OutgoingMessage(
        message_id=message_id,
        headers=header_map,
        body=body,
        signed_references=tuple(exc_c14n(ref) for ref in references),
        receiver_certificate=receiver_certificate,
        payload_content_id=href[4:],
        conversation_id=conversation_id or message_id,
        instance_id=instance_id,
    )
