"""Peppol Business Message Envelope (SBDH) 2.x: build the SBD around a business document and read it back.

Rules: peppol-as4.md §8 (HeaderVersion 1.0, one Sender/Receiver with authority iso6523-actorid-upis,
DocumentIdentification, scopes DOCUMENTID / PROCESSID / COUNTRY_C1 - mandatory since 2024-01-01).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, cast

from lxml import etree

from gateway.errors import InvalidIdentifier, MappingError, XMLInputError
from gateway.model import DocumentTypeID, ParticipantID, ProcessID
from gateway.xmlcore import (
    DEFAULT_MAX_XML_BYTES,
    NS,
    check_well_formed,
    parse_xml,
    root_element_bytes,
    root_element_span,
    root_name,
    string_value,
)
from gateway.xmlcore.parse import sealed

SBDH_NS = NS["sbdh"]
_S = f"{{{SBDH_NS}}}"
PARTICIPANT_AUTHORITY = "iso6523-actorid-upis"
_COUNTRY = re.compile(r"^[A-Z0-9]{2}$")
#: Bytes first fed to the pull parser by :func:`read_sbd_header` (a header usually fits: 1-2 kB), doubled
#: for each further feed up to ``_HEAD_CHUNK_MAX``. Whatever is fed is parsed, events for the business
#: document's elements included: a 16 kB first feed took 0.32 ms for a 10 kB invoice, 2 kB 0.09 ms.
_HEAD_CHUNK: Final = 2 * 1024
_HEAD_CHUNK_MAX: Final = 64 * 1024
#: Most nodes (the header element, the elements, their attributes, comments and processing instructions in
#: it) an SBDH may hold; a Peppol SBDH has about thirty. Every reader keeps the header as a tree
#: (``_read_header`` reads it), about thirty times the bytes of ``<x/>``, ``<!---->`` or `` a1=''``:
#: unbounded, a received payload of 100 MB (``max_payload_bytes``) filled with them in its header would cost
#: ~3 GB however it is read.
MAX_HEADER_NODES: Final = 10_000
HEADER_NODES_REFUSAL: Final = (
    f"SBDH holds more than {MAX_HEADER_NODES} elements, attributes, comments and processing instructions"
)


@dataclass(frozen=True, slots=True)
class SBDHData:
    """What the SBDH says (values trimmed, comments ignored).

    Attributes:
        sender / receiver: C1 / C4 participant ids.
        document_type / process: from the DOCUMENTID / PROCESSID scopes (with their schemes).
        country_c1: the COUNTRY_C1 scope.
        instance_id: DocumentIdentification/InstanceIdentifier (dedup key).
        created: CreationDateAndTime as given (ISO 8601 text).
        standard / type_version / type: DocumentIdentification values.
        business_document: the payload element serialised on its own (the SBD bytes remain the evidence).
        mls_to: the MLS_TO scope (``0242:<SPID>``) as written, if any; an invalid one is only a warning
            (peppol-as4.md §8), so it is kept as text and judged by whoever sends the MLS.
        mls_type: the MLS_TYPE scope as written (``FAILURE_ONLY`` or ``ALWAYS_SEND``), if any.
    """

    sender: ParticipantID
    receiver: ParticipantID
    document_type: DocumentTypeID
    process: ProcessID
    country_c1: str
    instance_id: str
    created: str
    standard: str
    type_version: str
    type: str
    business_document: bytes
    mls_to: str | None = None
    mls_type: str | None = None


def _sub(parent: etree._Element, name: str, text: str | None = None, **attrib: str) -> etree._Element:
    el = etree.SubElement(parent, _S + name, attrib)
    if text is not None:
        el.text = text
    return el


def _scope(parent: etree._Element, type_: str, instance: str, identifier: str | None) -> None:
    scope = _sub(parent, "Scope")
    _sub(scope, "Type", type_)
    _sub(scope, "InstanceIdentifier", instance)
    if identifier is not None:
        _sub(scope, "Identifier", identifier)


def build_sbd(
    business_document: bytes,
    *,
    sender: ParticipantID,
    receiver: ParticipantID,
    document_type: DocumentTypeID,
    process: ProcessID,
    country_c1: str,
    instance_id: str,
    created: datetime,
    mls_to: ParticipantID | None = None,
    mls_type: str | None = None,
    parsed_before: bool = False,
) -> bytes:
    """Wrap a business document (e.g. a UBL Invoice) in a Peppol SBD.

    Args:
        business_document: the payload XML bytes (parsed with the hardened parser).
        sender / receiver: C1 / C4 participants.
        document_type / process: the Peppol ids (the doc type root namespace must match the payload).
        country_c1: ISO 3166 alpha-2 country of C1.
        instance_id: unique id of this envelope (UUID recommended).
        created: creation time (timezone-aware).
        mls_to / mls_type: the optional MLS scopes (peppol-as4.md §8, §12): where the receiving access
            point sends its Message Level Status (our SPID, ``0242:…``) and when (``FAILURE_ONLY``,
            ``ALWAYS_SEND``).
        parsed_before: the caller vouches that ``business_document`` was accepted by a hardened tree parse
            whose root matched ``document_type`` (the delivery worker: every stored outbound document was
            parsed and validated before it was stored). Its bytes are then not read again, neither for the
            root's name nor for the well-formedness pass: the worker parses no document it sends.

    Returns:
        The SBD as UTF-8 XML bytes with an XML declaration. The business document is copied in byte for
        byte (no tree is built of it: a well-formedness pass checks it) when it is UTF-8 and has nothing
        but an XML declaration before its root; otherwise it is re-serialised from a tree. The sender
        wraps documents that its validation parsed already; the receiver's :func:`parse_sbd` parses the
        SBD as a tree (so namespace prefixes, which the pass does not resolve, are checked there).

    Raises:
        XMLInputError: the business document is not well-formed, carries a DTD or entities, is too large.
        MappingError: payload root does not match the document type, bad country, naive time.
    """
    if not parsed_before:
        qname = root_name(business_document, what="business document")
        if (qname.namespace, qname.localname) != (document_type.root_namespace, document_type.root_name):
            raise MappingError(
                f"payload root {qname.text} does not match document type {document_type.value}"
            )
    if not _COUNTRY.match(country_c1):
        raise MappingError(f"COUNTRY_C1 {country_c1!r} is not ISO 3166 alpha-2")
    if created.tzinfo is None:
        raise MappingError("CreationDateAndTime needs a timezone")
    sbd = etree.Element(_S + "StandardBusinessDocument", nsmap={None: SBDH_NS})  # type: ignore[dict-item]
    hdr = _sub(sbd, "StandardBusinessDocumentHeader")
    _sub(hdr, "HeaderVersion", "1.0")
    _sub(_sub(hdr, "Sender"), "Identifier", str(sender), Authority=PARTICIPANT_AUTHORITY)
    _sub(_sub(hdr, "Receiver"), "Identifier", str(receiver), Authority=PARTICIPANT_AUTHORITY)
    di = _sub(hdr, "DocumentIdentification")
    _sub(di, "Standard", document_type.root_namespace)
    _sub(di, "TypeVersion", document_type.version)
    _sub(di, "InstanceIdentifier", instance_id)
    _sub(di, "Type", document_type.root_name)
    _sub(di, "CreationDateAndTime", created.isoformat())
    scope = _sub(hdr, "BusinessScope")
    _scope(scope, "DOCUMENTID", document_type.value, document_type.scheme)
    _scope(scope, "PROCESSID", process.value, process.scheme)
    _scope(scope, "COUNTRY_C1", country_c1, None)
    if mls_to is not None:
        _scope(scope, "MLS_TO", str(mls_to), PARTICIPANT_AUTHORITY)
    if mls_type is not None:
        _scope(scope, "MLS_TYPE", mls_type, None)
    element = root_element_bytes(business_document)
    if element is None:
        sbd.append(parse_xml(business_document, what="business document"))
        return etree.tostring(sbd, xml_declaration=True, encoding="UTF-8")
    if not parsed_before:
        check_well_formed(business_document, max_bytes=DEFAULT_MAX_XML_BYTES, what="business document")
    envelope = etree.tostring(sbd, xml_declaration=True, encoding="UTF-8")
    close = envelope.rindex(b"</StandardBusinessDocument>")
    return b"".join((memoryview(envelope)[:close], element, memoryview(envelope)[close:]))


def built_header(
    business_document: bytes,
    *,
    sender: ParticipantID,
    receiver: ParticipantID,
    document_type: DocumentTypeID,
    process: ProcessID,
    country_c1: str,
    instance_id: str,
    created: datetime,
    mls_to: ParticipantID | None = None,
    mls_type: str | None = None,
) -> SBDHData:
    """What :func:`read_sbd_header` reads from the SBD :func:`build_sbd` writes with the same arguments.

    The delivery worker wraps every document itself: it hands this to the AS4 builder instead of
    parsing back the header it has just written (about 0.9 M instructions per message;
    ``tests/unit/ubl/test_sbdh_built_header.py`` holds the two equal). The one check of that read that
    looks at the business document is kept: its root must be the document type's
    (:func:`_payload_root`, the bytes up to the root's start tag only).

    Raises:
        MappingError: the business document's root is not ``document_type``'s, as ``read_sbd_header``.
        XMLInputError: no root element can be read.
    """
    root = _payload_root(business_document)
    if root.namespace != document_type.root_namespace or root.localname != document_type.root_name:
        raise MappingError("business document root does not match DocumentIdentification Standard/Type")
    return SBDHData(
        sender=sender,
        receiver=receiver,
        document_type=document_type,
        process=process,
        country_c1=country_c1,
        instance_id=instance_id,
        created=created.isoformat(),
        standard=document_type.root_namespace,
        type_version=document_type.version,
        type=document_type.root_name,
        business_document=b"",
        mls_to=str(mls_to) if mls_to is not None else None,
        mls_type=mls_type,
    )


#: Bytes fed per step while looking for the business document's root start tag (it comes after the
#: prolog, in the first few hundred bytes of a UBL document).
_ROOT_CHUNK: Final = 512


def _payload_root(business_document: bytes) -> etree.QName:
    """The name of the business document's root, read up to its start tag (hardened pull parser).

    No encoding check (``gateway.xmlcore.encoding``): the document is a stored one the worker has just
    wrapped (``build_sbd``, after its check at submission, or whose tree parse refuses it).

    Raises:
        XMLInputError: not well-formed as far as read, or no root element.
    """
    parser = sealed(
        etree.XMLPullParser(
            events=("start",), resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True
        )
    )
    view = memoryview(business_document)
    try:
        for offset in range(0, len(view), _ROOT_CHUNK):
            parser.feed(bytes(view[offset : offset + _ROOT_CHUNK]))
            for _, node in parser.read_events():
                return etree.QName(cast(etree._Element, node))
    except etree.XMLSyntaxError as exc:
        raise XMLInputError(f"business document is not well-formed XML: {exc}") from exc
    raise XMLInputError("business document has no root element")


def _text(el: etree._Element | None) -> str:
    return string_value(el).strip() if el is not None else ""


def _one(parent: etree._Element, name: str) -> etree._Element:
    found = list(parent.iterchildren(_S + name))  # findall's answer without ElementPath (issue 12)
    if len(found) != 1:
        raise MappingError(f"SBDH needs exactly one {name} (found {len(found)})")
    return found[0]


def _participant(parent: etree._Element) -> ParticipantID:
    ident = _one(parent, "Identifier")
    if (ident.get("Authority") or "").strip() != PARTICIPANT_AUTHORITY:
        raise MappingError(f"SBDH participant authority must be {PARTICIPANT_AUTHORITY}")
    return ParticipantID.parse(_text(ident))


def parse_sbd(data: bytes, *, max_bytes: int) -> SBDHData:
    """Parse and check a Peppol SBD.

    Args:
        data: the SBD bytes (the decrypted, decompressed AS4 payload).
        max_bytes: refuse larger input.

    Raises:
        XMLInputError: not well-formed, DTD/entities, too large.
        MappingError: an SBDH rule of the Peppol envelope spec is violated.
    """
    root = parse_xml(data, max_bytes=max_bytes, what="SBD")
    if root.tag != _S + "StandardBusinessDocument":
        raise MappingError("payload is not a StandardBusinessDocument")
    elements = [c for c in root if isinstance(c.tag, str)]
    if len(elements) != 2 or elements[0].tag != _S + "StandardBusinessDocumentHeader":
        raise MappingError("SBD must hold the header and exactly one business document")
    hdr, payload = elements
    header = _read_header(hdr, etree.QName(payload))
    sliced = _business_slice(data, root, payload)
    if sliced is not None:
        return dataclasses.replace(header, business_document=bytes(sliced))
    try:
        business = etree.tostring(payload, encoding="UTF-8")
    except (ValueError, etree.SerialisationError) as exc:  # pragma: no cover - defensive
        raise XMLInputError("business document cannot be serialised") from exc
    return dataclasses.replace(header, business_document=business)


_HEADER_END = b"</StandardBusinessDocumentHeader"
_SBD_END = re.compile(rb"</StandardBusinessDocument[ \t\r\n]*>\Z")
_BLANKS = b" \t\r\n"


def _business_slice(data: bytes, root: etree._Element, payload: etree._Element) -> memoryview | None:
    """The business document's own bytes in the (already parsed) SBD, or None to serialise it from the tree
    (the layout of :func:`_business_span`, with the SBD root declaring nothing but the SBDH default
    namespace, so the business document needs nothing from its ancestors, and an unprefixed business
    root). The bytes as sent cost no serialisation and keep the document exactly as C1 wrote it."""
    if root.nsmap != {None: SBDH_NS} or payload.prefix is not None:
        return None
    span = _business_span(data, etree.QName(payload).localname)
    return memoryview(data)[span[0] : span[1]] if span is not None else None


def _business_span(data: bytes, name: str) -> tuple[int, int] | None:
    """Where the business document named ``name`` is in the SBD, or None outside the plain layout senders
    write: UTF-8, no comment, CDATA section or processing instruction up to the header's end tag, and only
    blanks between the header, the business document and the SBD's end tag."""
    span = root_element_span(data)
    if span is None:
        return None
    first, last = span
    head_end = data.find(_HEADER_END, first, last)
    if head_end < 0 or data.find(b"<!", first, head_end) >= 0 or data.find(b"<?", first, head_end) >= 0:
        return None
    start = data.find(b">", head_end, last) + 1
    while 0 < start < last and data[start] in _BLANKS:
        start += 1
    close = _SBD_END.search(data, max(start, last - 256), last)
    if start <= 0 or close is None:
        return None
    end = close.start()
    while end > start and data[end - 1] in _BLANKS:
        end -= 1
    encoded = name.encode()
    opened = data.startswith(b"<" + encoded, start) and data[
        start + 1 + len(encoded) : start + 2 + len(encoded)
    ] in (b" ", b"\t", b"\r", b"\n", b">", b"/")
    closed = data.endswith(b"/>", start, end) or re.search(
        rb"</" + re.escape(encoded) + rb"[ \t\r\n]*>\Z", data[max(start, end - len(encoded) - 64) : end]
    )
    return (start, end) if opened and closed else None


def read_sbd_header(data: bytes, *, max_bytes: int) -> SBDHData:
    """The SBDH of an SBD, read without parsing the business document (``business_document`` is empty).

    For the sending side, which wrapped the document itself: only the bytes up to the business
    document's start tag are parsed, with the hardened parser's settings (no DTD, no entities, no
    network), so the header costs the same for a 10 kB and a 20 MB document and no tree of the document
    is built. Unlike :func:`parse_sbd` it does not see what follows that start tag (a second business
    document, a syntax error further on): the receiver's :func:`gateway.ubl.sbd_read.read_sbd` judges those.

    No byte scan or encoding check (``gateway.xmlcore.encoding``) either: the SBD is one the gateway wrote
    (``build_sbd``: UTF-8, the business document checked when it came in), not outside bytes.

    Raises:
        XMLInputError: too large, not well-formed (as far as read), a DTD or an entity reference.
        MappingError: an SBDH rule of the Peppol envelope spec is violated.
    """
    if len(data) > max_bytes:
        raise XMLInputError(f"SBD is {len(data)} bytes, above the limit of {max_bytes}")
    parser = sealed(
        etree.XMLPullParser(
            events=("start", "end"), resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True
        )
    )
    view = memoryview(data)
    depth = children = 0
    header: etree._Element | None = None
    try:
        offset, chunk = 0, _HEAD_CHUNK
        while offset < len(view):
            parser.feed(bytes(view[offset : offset + chunk]))
            offset, chunk = offset + chunk, min(2 * chunk, _HEAD_CHUNK_MAX)
            for event, node in parser.read_events():
                element = cast(etree._Element, node)  # "start"/"end" events carry elements
                if event == "end":
                    if depth == 2 and children == 1:
                        header = element
                    depth -= 1
                    continue
                depth += 1
                if depth == 1:
                    docinfo: Any = element.getroottree().docinfo  # lxml-stubs lack DocInfo.doctype
                    if docinfo.doctype:
                        raise XMLInputError("SBD carries a DTD, which is not allowed")
                    if element.tag != _S + "StandardBusinessDocument":
                        raise MappingError("payload is not a StandardBusinessDocument")
                elif depth == 2:
                    children += 1
                    if children == 1 and element.tag != _S + "StandardBusinessDocumentHeader":
                        raise MappingError("SBD must hold the header and exactly one business document")
                    if children == 2 and header is not None:
                        if any(True for _ in header.iter(etree.Entity)):
                            raise XMLInputError("SBD header references an entity, which is not allowed")
                        return _read_header(header, etree.QName(element))
    except etree.XMLSyntaxError as exc:
        raise XMLInputError(f"SBD is not well-formed XML: {exc}") from exc
    raise MappingError("SBD must hold the header and exactly one business document")


def header_node_cost(node: etree._Element) -> int:
    """What ``node`` counts towards ``MAX_HEADER_NODES``: one, and one per attribute of an element (a
    processing instruction's pseudo-attributes are its text)."""
    return 1 + len(node.attrib) if isinstance(node.tag, str) else 1


def _over_node_limit(hdr: etree._Element) -> bool:
    """True when the header holds more than ``MAX_HEADER_NODES`` nodes (``header_node_cost``)."""
    nodes = 0
    for node in hdr.iter():
        nodes += header_node_cost(node)
        if nodes > MAX_HEADER_NODES:
            return True
    return False


def _read_header(hdr: etree._Element, payload: etree.QName) -> SBDHData:
    """Check the SBDH element against the business document's root name; ``business_document`` is empty."""
    if _over_node_limit(hdr):
        raise MappingError(HEADER_NODES_REFUSAL)
    try:
        if _text(_one(hdr, "HeaderVersion")) != "1.0":
            raise MappingError("SBDH HeaderVersion must be 1.0")
        sender = _participant(_one(hdr, "Sender"))
        receiver = _participant(_one(hdr, "Receiver"))
        di = _one(hdr, "DocumentIdentification")
        standard = _text(_one(di, "Standard"))
        type_version = _text(_one(di, "TypeVersion"))
        instance_id = _text(_one(di, "InstanceIdentifier"))
        type_ = _text(_one(di, "Type"))
        created = _text(_one(di, "CreationDateAndTime"))
        scopes: dict[str, tuple[str, str]] = {}
        for scope in _one(hdr, "BusinessScope").iterchildren(_S + "Scope"):
            stype = _text(_one(scope, "Type"))
            ident = next(scope.iterchildren(_S + "Identifier"), None)
            if stype in scopes and stype in ("DOCUMENTID", "PROCESSID", "COUNTRY_C1"):
                raise MappingError(f"SBDH scope {stype} repeated")
            scopes[stype] = (_text(_one(scope, "InstanceIdentifier")), _text(ident))
        for needed in ("DOCUMENTID", "PROCESSID", "COUNTRY_C1"):
            if needed not in scopes:
                raise MappingError(f"SBDH lacks the {needed} scope")
        doc_value, doc_scheme = scopes["DOCUMENTID"]
        proc_value, proc_scheme = scopes["PROCESSID"]
        document_type = DocumentTypeID(doc_value, doc_scheme or "busdox-docid-qns")
        process = ProcessID(proc_value, proc_scheme or "cenbii-procid-ubl")
    except InvalidIdentifier as exc:
        raise MappingError(f"SBDH identifier invalid: {exc}") from exc
    country = scopes["COUNTRY_C1"][0]
    if not _COUNTRY.match(country):
        raise MappingError(f"COUNTRY_C1 {country!r} is not ISO 3166 alpha-2")
    if not instance_id or not doc_value or not proc_value:
        raise MappingError("SBDH InstanceIdentifier, DOCUMENTID and PROCESSID must not be empty")
    qname = payload
    if qname.namespace != standard or qname.localname != type_:
        raise MappingError("business document root does not match DocumentIdentification Standard/Type")
    if not doc_value.startswith(standard + "::") or not doc_value.endswith(":" + type_version):
        raise MappingError("DOCUMENTID does not agree with Standard/TypeVersion")
    return SBDHData(
        sender,
        receiver,
        document_type,
        process,
        country,
        instance_id,
        created,
        standard,
        type_version,
        type_,
        b"",
        scopes["MLS_TO"][0] if "MLS_TO" in scopes else None,
        scopes["MLS_TYPE"][0] if "MLS_TYPE" in scopes else None,
    )
