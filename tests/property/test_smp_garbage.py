"""Any SMP answer either reads as verified metadata or fails with a DiscoveryError / XMLInputError.

The h11 fuzz invariant for the discovery core: remote SMP bytes never escape as a KeyError, an lxml or a
signxml exception (which the resolver would not classify).
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.crypto import TrustStore, generate_dev_pki
from gateway.devnet import DevEndpoint, DevService, service_metadata_element, sign_metadata
from gateway.errors import DiscoveryError, XMLInputError
from gateway.model.identifiers import BIS_BILLING_PROCESS, BIS_INVOICE, ParticipantID
from gateway.smp import SMPSignaturePolicy, apply_naptr_regexp, read_service_metadata, verify_signed_metadata
from gateway.xmlcore import parse_xml

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
_PKI = generate_dev_pki(now=NOW, seat_ids=("POP000001",))
assert _PKI.smp is not None
assert _PKI.smp_ca is not None
_POLICY = SMPSignaturePolicy(
    TrustStore.from_certificates([_PKI.root.certificate, _PKI.smp_ca.certificate]).pinned_to_smp_cas()
)
_SERVICE = DevService(
    BIS_INVOICE,
    ((BIS_BILLING_PROCESS, (DevEndpoint("https://ap.example/as4", _PKI.aps["POP000001"].certificate),)),),
)
SIGNED = sign_metadata(service_metadata_element(ParticipantID.parse("0208:0739484052"), _SERVICE), _PKI.smp)


def _read(data: bytes) -> None:
    try:
        verified = verify_signed_metadata(parse_xml(data), _POLICY, at=NOW)
        read_service_metadata(verified.signed)
    except (DiscoveryError, XMLInputError):
        pass


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_signed_metadata_never_escapes(data: st.DataObject) -> None:
    position = data.draw(st.integers(0, len(SIGNED) - 1))
    mode = data.draw(st.sampled_from(["flip", "cut", "insert"]))
    blob = bytearray(SIGNED)
    if mode == "flip":
        blob[position] ^= data.draw(st.integers(1, 255))
    elif mode == "cut":
        del blob[position : position + data.draw(st.integers(1, 200))]
    else:
        blob[position:position] = data.draw(
            st.sampled_from([b"<x/>", b"&amp;", b" ", b"<![CDATA[a]]>", b"\x00"])
        )
    _read(bytes(blob))


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=512))
def test_random_bytes_never_escape(blob: bytes) -> None:
    _read(blob)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80), st.text(max_size=40))
def test_naptr_regexp_never_raises(regexp: str, subject: str) -> None:
    result = apply_naptr_regexp(regexp, subject)
    assert result is None or urlsplit(result).scheme.lower() in ("http", "https")
