"""ebMS signals: signed Receipts (NRI = verbatim copies of the received ds:References) and signed Errors
(peppol-as4.md §7). The sender's check of an answer is in ``gateway.as4.signal_check``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from lxml import etree

from gateway.as4.constants import EB_NS, EBBP_NS, OUT_NSMAP, SOAP_NS, SOAP_PREFIX, WSSE_NS
from gateway.as4.ebms_errors import EbmsError
from gateway.as4.messages import IncomingUserMessage
from gateway.as4.wss import (
    WSU_ID,
    ReferenceInput,
    add_bst,
    index_ids,
    sign_envelope,
)
from gateway.crypto import (
    PEPPOL_POLICY,
    KeyMaterial,
    SecurityPolicy,
    Transform,
    TransformAlgorithm,
    exc_c14n,
)
from gateway.errors import XMLInputError
from gateway.xmlcore import parse_xml

_EB = f"{{{EB_NS}}}"
_DS = "{http://www.w3.org/2000/09/xmldsig#}"
_MUST_UNDERSTAND = f"{{{SOAP_NS}}}mustUnderstand"


def _uuid() -> str:
    return str(uuid.uuid4())


def _timestamp(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


def _signal_envelope(
    *, message_id: str, timestamp: datetime, ref_to: str | None, new_id: Callable[[], str]
) -> tuple[etree._Element, etree._Element, str, str]:
    env = etree.Element(f"{{{SOAP_NS}}}Envelope", nsmap=OUT_NSMAP)
    hdr = etree.SubElement(env, f"{{{SOAP_NS}}}Header")
    etree.SubElement(hdr, f"{{{WSSE_NS}}}Security", {_MUST_UNDERSTAND: "true"})
    messaging_id = "msg-" + new_id()
    # mustUnderstand stays on eb:Messaging for errors too (phase4#328).
    messaging = etree.SubElement(hdr, _EB + "Messaging", {_MUST_UNDERSTAND: "true", WSU_ID: messaging_id})
    body_id = "body-" + new_id()
    etree.SubElement(env, f"{{{SOAP_NS}}}Body", {WSU_ID: body_id})
    sm = etree.SubElement(messaging, _EB + "SignalMessage")
    mi = etree.SubElement(sm, _EB + "MessageInfo")
    etree.SubElement(mi, _EB + "Timestamp").text = _timestamp(timestamp)
    etree.SubElement(mi, _EB + "MessageId").text = message_id
    if ref_to:
        etree.SubElement(mi, _EB + "RefToMessageId").text = ref_to
    return env, sm, messaging_id, body_id


def _sign_signal(
    env: etree._Element,
    *,
    key: KeyMaterial,
    messaging_id: str,
    body_id: str,
    policy: SecurityPolicy,
    new_id: Callable[[], str],
    parse_first: bool = False,
) -> bytes:
    bst_id = "X509-" + new_id()
    security = env.find(f"{{{SOAP_NS}}}Header/{{{WSSE_NS}}}Security")
    assert security is not None
    add_bst(security, key.certificate, bst_id)
    if parse_first:  # see _rebinds_our_prefixes: sign the tree the receiver will parse
        env = etree.fromstring(etree.tostring(env))  # our own bytes: trusted

    def references(parsed: etree._Element) -> list[ReferenceInput]:
        ids = index_ids(parsed)
        return [
            ReferenceInput(
                "#" + messaging_id,
                (Transform(TransformAlgorithm.EXC_C14N, (SOAP_PREFIX,)),),
                exc_c14n(ids[messaging_id], (SOAP_PREFIX,)),
            ),
            ReferenceInput("#" + body_id, (Transform(TransformAlgorithm.EXC_C14N),), exc_c14n(ids[body_id])),
        ]

    data, _ = sign_envelope(
        env,
        key=key,
        bst_id=bst_id,
        references=references,
        policy=policy,
        new_id=new_id,
        keep_references=False,
    )
    return data


_XML_SPACE = " \t\r\n"
_OUR_BINDINGS = {prefix.encode(): uri.encode() for prefix, uri in OUT_NSMAP.items()}
_DECLARATION = re.compile(rb"""xmlns:([^\s=]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")


def _rebinds_our_prefixes(raws: tuple[bytes, ...]) -> bool:
    """Whether a received reference declares one of our envelope's prefixes for another namespace.

    lxml moves a copy into our tree by giving each of its names our declaration of that namespace (by
    URI), without looking for a declaration of that prefix inside the copy: one naming another namespace
    there makes the tree in memory differ from a parse of its bytes. Without one they are the same. Every
    declaration matches the expression (XML's ``xmlns:p Eq AttValue``); one written with a reference, or
    a match in a text or an attribute value, only counts as a rebinding (the receipt is then parsed first:
    the same bytes, one parse more).
    """
    for raw in raws:
        for prefix, double, single in _DECLARATION.findall(raw):
            ours = _OUR_BINDINGS.get(prefix)
            if ours is not None and ours != (double or single):
                return True
    return False


def _reference_copies(raws: tuple[bytes, ...]) -> list[etree._Element]:
    """The received ds:References as parsed, in one parse of them all where each is an element and at most
    whitespace after it (the parser keeps no tail: ``parse_incoming``; a copy stored with one, its carriage
    return written ``&#13;``, is taken as the whitespace it is); else one parse each, with its verdict."""
    what = "received ds:Reference"
    try:
        together = parse_xml(b"<r>" + b"".join(raws) + b"</r>", what=what)
    except XMLInputError:
        together = None
    if together is not None:
        copies = list(together)
        if len(copies) == len(raws) and all(
            isinstance(c.tag, str) and not (c.tail or "").strip(_XML_SPACE) for c in copies
        ):
            for c in copies:
                c.tail = None  # a parse of one alone keeps no text after its root
            return copies
    return [parse_xml(raw, what=what) for raw in raws]


def build_receipt(
    incoming: IncomingUserMessage,
    *,
    key: KeyMaterial,
    message_id: str,
    timestamp: datetime,
    policy: SecurityPolicy = PEPPOL_POLICY,
    new_id: Callable[[], str] = _uuid,
) -> bytes:
    """Build the signed non-repudiation Receipt for an accepted UserMessage.

    Every ds:Reference of the received SignedInfo is copied into one ebbp:MessagePartNRInformation
    (URI, Transforms incl. InclusiveNamespaces, DigestMethod, DigestValue), as parsed.

    Returns:
        The SOAP 1.2 envelope bytes (send with Content-Type ``application/soap+xml;charset=UTF-8``).
    """
    env, sm, messaging_id, body_id = _signal_envelope(
        message_id=message_id, timestamp=timestamp, ref_to=incoming.message_id, new_id=new_id
    )
    nri = etree.SubElement(etree.SubElement(sm, _EB + "Receipt"), f"{{{EBBP_NS}}}NonRepudiationInformation")
    for copy in _reference_copies(incoming.received_references):
        etree.SubElement(nri, f"{{{EBBP_NS}}}MessagePartNRInformation").append(copy)
    return _sign_signal(
        env,
        key=key,
        messaging_id=messaging_id,
        body_id=body_id,
        policy=policy,
        new_id=new_id,
        parse_first=_rebinds_our_prefixes(incoming.received_references),
    )


def build_error(
    ref_to_message_id: str | None,
    error: EbmsError,
    *,
    key: KeyMaterial,
    message_id: str,
    timestamp: datetime,
    detail: str = "",
    policy: SecurityPolicy = PEPPOL_POLICY,
    new_id: Callable[[], str] = _uuid,
) -> bytes:
    """Build a signed ebMS Error signal.

    Args:
        ref_to_message_id: the MessageId in error, when it could be read.
        error: the ebMS error.
        key: our key (errors are signed when possible, peppol-as4.md §7.3).
        message_id / timestamp: of the signal.
        detail: PUBLIC ErrorDetail (e.g. ``PEPPOL:NOT_SERVICED``); internal details never go to the peer.

    Returns:
        The SOAP 1.2 envelope bytes.
    """
    env, sm, messaging_id, body_id = _signal_envelope(
        message_id=message_id, timestamp=timestamp, ref_to=ref_to_message_id, new_id=new_id
    )
    attrs = {
        "category": error.category.value,
        "errorCode": error.code,
        "origin": error.origin,
        "severity": error.severity.value,
        "shortDescription": error.short_description,
    }
    if ref_to_message_id:
        attrs["refToMessageInError"] = ref_to_message_id
    err = etree.SubElement(sm, _EB + "Error", attrs)
    desc = etree.SubElement(err, _EB + "Description")
    desc.set("{http://www.w3.org/XML/1998/namespace}lang", "en")
    desc.text = error.short_description  # generic on purpose: no oracle
    if detail:
        etree.SubElement(err, _EB + "ErrorDetail").text = detail
    return _sign_signal(
        env, key=key, messaging_id=messaging_id, body_id=body_id, policy=policy, new_id=new_id
    )
