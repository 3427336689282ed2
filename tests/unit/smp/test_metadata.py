"""SMP XML readers (busdox and OASIS BDXR) and HTTP status interpretation."""

from __future__ import annotations

import pytest

from gateway.errors import (
    DiscoveryUnavailable,
    DocumentTypeNotSupported,
    ParticipantNotRegistered,
    SMPResponseInvalid,
)
from gateway.model.identifiers import DocumentTypeID, ParticipantID
from gateway.smp import (
    BDXR_SMP,
    LookupOutcome,
    Redirect,
    ServiceGroup,
    ServiceInformation,
    SMPHTTPResponse,
    metadata_body,
    read_service_group,
    read_service_metadata,
    referenced_document_types,
    service_group_body,
)
from gateway.xmlcore import parse_xml

BUSDOX = b'xmlns="http://busdox.org/serviceMetadata/publishing/1.0/" xmlns:ids="http://busdox.org/transport/identifiers/1.0/"'


def test_redirect_read() -> None:
    xml = (
        b"<SignedServiceMetadata "
        + BUSDOX
        + b'><ServiceMetadata><Redirect href="https://b/x"><CertificateUID>CN=b</CertificateUID></Redirect></ServiceMetadata></SignedServiceMetadata>'
    )
    assert read_service_metadata(parse_xml(xml)) == Redirect("https://b/x", "CN=b")


def test_bdxr_service_information_read() -> None:
    xml = f"""<SignedServiceMetadata xmlns="{BDXR_SMP}"><ServiceMetadata><ServiceInformation>
      <ParticipantIdentifier scheme="iso6523-actorid-upis">0208:0739484052</ParticipantIdentifier>
      <DocumentIdentifier scheme="busdox-docid-qns">doc</DocumentIdentifier>
      <ProcessList><Process><ProcessIdentifier scheme="cenbii-procid-ubl">proc</ProcessIdentifier>
      <ServiceEndpointList><Endpoint transportProfile="peppol-transport-as4-v2_0"><EndpointURI>https://ap/as4</EndpointURI>
      <ServiceActivationDate>2026-01-01T00:00:00</ServiceActivationDate><Certificate>AAEC</Certificate></Endpoint>
      </ServiceEndpointList></Process></ProcessList></ServiceInformation></ServiceMetadata></SignedServiceMetadata>""".encode()
    info = read_service_metadata(parse_xml(xml))
    assert isinstance(info, ServiceInformation)
    endpoint = info.processes[0].endpoints[0]
    assert endpoint.url == "https://ap/as4"
    assert endpoint.certificate_der == b"\x00\x01\x02"
    assert endpoint.activation is not None
    assert endpoint.activation.tzinfo is not None


@pytest.mark.parametrize(
    "xml",
    [
        b"<other/>",
        b"<ServiceGroup " + BUSDOX + b"/>",
        b"<SignedServiceMetadata " + BUSDOX + b"/>",
        b"<SignedServiceMetadata "
        + BUSDOX
        + b"><ServiceMetadata><Redirect/></ServiceMetadata></SignedServiceMetadata>",
        b"<SignedServiceMetadata "
        + BUSDOX
        + b'><ServiceMetadata><ServiceInformation><ids:ParticipantIdentifier scheme="x">1'
        b"</ids:ParticipantIdentifier></ServiceInformation></ServiceMetadata></SignedServiceMetadata>",
    ],
)
def test_malformed_metadata_is_a_bad_response(xml: bytes) -> None:
    with pytest.raises(SMPResponseInvalid):
        read_service_metadata(parse_xml(xml))


def test_service_group_read() -> None:
    xml = (
        b"<ServiceGroup "
        + BUSDOX
        + (
            b'><ids:ParticipantIdentifier scheme="iso6523-actorid-upis">0208:0739484052'
            b"</ids:ParticipantIdentifier>"
            b'<ServiceMetadataReferenceCollection><ServiceMetadataReference href="https://smp/a"/>'
            b"</ServiceMetadataReferenceCollection></ServiceGroup>"
        )
    )
    group = read_service_group(parse_xml(xml))
    assert group.participant == ParticipantID.parse("0208:0739484052")
    assert group.references == ("https://smp/a",)


@pytest.mark.parametrize(
    ("status", "error", "outcome"),
    [
        (404, DocumentTypeNotSupported, LookupOutcome.DOCUMENT_TYPE_NOT_SUPPORTED),
        (302, SMPResponseInvalid, LookupOutcome.BAD_SMP_RESPONSE),
        (403, SMPResponseInvalid, LookupOutcome.BAD_SMP_RESPONSE),
        (503, DiscoveryUnavailable, LookupOutcome.SMP_UNREACHABLE),
        (429, DiscoveryUnavailable, LookupOutcome.SMP_UNREACHABLE),
    ],
)
def test_metadata_status(status: int, error: type[Exception], outcome: LookupOutcome) -> None:
    with pytest.raises(error) as exc:
        metadata_body(SMPHTTPResponse("https://smp/x", status))
    assert exc.value.outcome is outcome  # type: ignore[attr-defined]
    assert exc.value.retryable is outcome.is_retryable  # type: ignore[attr-defined]


def test_service_group_404_is_not_registered_and_200_gives_body() -> None:
    with pytest.raises(ParticipantNotRegistered):
        service_group_body(SMPHTTPResponse("https://smp/x", 404))
    assert service_group_body(SMPHTTPResponse("https://smp/x", 200, b"<x/>")) == b"<x/>"


def test_every_failure_outcome_maps_to_its_error() -> None:
    for outcome in LookupOutcome:
        if outcome is LookupOutcome.FOUND:
            with pytest.raises(ValueError, match="FOUND"):
                outcome.error("x")
            continue
        error = outcome.error("detail")
        assert error.outcome is outcome
        assert error.retryable is outcome.is_retryable


def _info_xml(endpoint: str = "", participant: str = "", document: str = "") -> bytes:
    participant = (
        participant
        or '<ids:ParticipantIdentifier scheme="iso6523-actorid-upis">0208:1</ids:ParticipantIdentifier>'
    )
    document = document or '<ids:DocumentIdentifier scheme="busdox-docid-qns">doc</ids:DocumentIdentifier>'
    process = (
        '<ProcessList><Process><ids:ProcessIdentifier scheme="cenbii-procid-ubl">p</ids:ProcessIdentifier>'
        f"<ServiceEndpointList>{endpoint}</ServiceEndpointList></Process></ProcessList>"
    )
    return (
        f"<SignedServiceMetadata {BUSDOX.decode()}><ServiceMetadata><ServiceInformation>"
        f"{participant}{document}{process}</ServiceInformation></ServiceMetadata></SignedServiceMetadata>"
    ).encode()


@pytest.mark.parametrize(
    ("xml", "message"),
    [
        (_info_xml(participant="<x/>"), "lacks ParticipantIdentifier"),
        (_info_xml(document="<x/>"), "lacks DocumentIdentifier"),
        (
            _info_xml(
                '<Endpoint transportProfile="p"><ServiceActivationDate>soon</ServiceActivationDate>'
                "</Endpoint>"
            ),
            "not an xs:dateTime",
        ),
    ],
)
def test_missing_parts_and_bad_dates(xml: bytes, message: str) -> None:
    with pytest.raises(SMPResponseInvalid, match=message):
        read_service_metadata(parse_xml(xml))


def test_unreadable_certificate_becomes_empty_and_armour_is_tolerated() -> None:
    bad = _info_xml('<Endpoint transportProfile="p"><Certificate>!!!</Certificate></Endpoint>')
    info = read_service_metadata(parse_xml(bad))
    assert isinstance(info, ServiceInformation)
    assert info.processes[0].endpoints[0].certificate_der == b""
    armoured = _info_xml(
        '<Endpoint transportProfile="p"><Certificate>-----BEGIN CERTIFICATE-----\nAAEC\n'
        "-----END CERTIFICATE-----</Certificate></Endpoint>"
    )
    info = read_service_metadata(parse_xml(armoured))
    assert isinstance(info, ServiceInformation)
    assert info.processes[0].endpoints[0].certificate_der == b"\x00\x01\x02"


def test_service_group_reader_refuses_metadata() -> None:
    with pytest.raises(SMPResponseInvalid, match="expected ServiceGroup"):
        read_service_group(parse_xml(_info_xml()))


def test_referenced_document_types_skips_foreign_hrefs() -> None:
    group = ServiceGroup(
        ParticipantID.parse("0208:1"),
        (
            "https://smp/iso6523-actorid-upis%3A%3A0208%3A1/services/busdox-docid-qns%3A%3Aurn%3Ax%3A%3AInvoice",
            "https://smp/other",
            "https://smp/x/services/",
        ),
    )
    assert referenced_document_types(group) == (DocumentTypeID("urn:x::Invoice"),)
