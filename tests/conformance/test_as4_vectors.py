"""The phase4 / Holodeck vectors of ../shared/as4-vectors behave as its README says."""

from __future__ import annotations

import hmac
from datetime import UTC, datetime
from pathlib import Path

import pytest
from as4_support import NOW, counter_ids, dev_pki, make_sbd, receive
from lxml import etree

from gateway.as4 import (
    EbmsError,
    build_user_message,
    load_signal,
    read_signal,
    split_raw_message,
    verify_signal_signature,
)
from gateway.as4.wss import index_ids, local_ref, resolve_bst_certificate
from gateway.crypto import (
    PEPPOL_POLICY,
    CertRejection,
    TrustStore,
    common_name,
    digest_bytes,
    exc_c14n,
    load_key_material,
    read_signed_info,
    validate_ap_certificate,
    verify_signature_value,
)
from gateway.errors import CertificateRejected, InboundMessageRejected, RemoteProtocolError

VECTORS = Path(__file__).resolve().parents[2].parent / "shared" / "as4-vectors"
G3_TEST = (
    Path(__file__).resolve().parents[2].parent
    / "shared"
    / "artefacts"
    / "peppol-pki"
    / "ap-test-truststore-g3.pem"
)
DS = "{http://www.w3.org/2000/09/xmldsig#}"


def _vector(name: str) -> bytes:
    path = VECTORS / name
    if not path.exists():
        pytest.fail(f"vector {path} missing")
    return path.read_bytes()


def test_dump_raw_signature_verifies_against_g3_test_chain() -> None:
    headers, body = split_raw_message(_vector("dump-raw.as4out"))
    from gateway.as4.mime import parse_multipart

    _, root = parse_multipart(headers["content-type"], body)
    env = etree.fromstring(root.body)
    ids = index_ids(env)
    security = env.find(".//{*}Security")
    sig = security.find(f"{DS}Signature")
    si = read_signed_info(sig, PEPPOL_POLICY)
    cert = resolve_bst_certificate(sig.find(f"{DS}KeyInfo"), ids, security)
    verify_signature_value(sig, si, cert.public_key())  # type: ignore[arg-type]
    digests = {}
    for ref in si.references:
        target = local_ref(ref.uri)
        if target is None:
            continue  # the cid: reference needs the (unavailable) decrypted attachment
        data = exc_c14n(ids[target], ref.transforms[0].prefixes)
        assert hmac.compare_digest(digest_bytes(data, ref.digest_method), ref.digest_value)
        digests[etree.QName(ids[target]).localname] = ref.digest_value
    # peppol-as4.md §6.4 (checked values)
    import base64

    assert base64.b64encode(digests["Messaging"]) == b"gziUMh8gM1qluQpFGeg2aVef9/MZroIQHHGQuTZqWac="
    assert base64.b64encode(digests["Body"]) == b"r6FotYGIcFZGk+AblTSiDBVcKy5zfrvW1pFYJe6KUWw="
    assert common_name(cert) == "POP000306"
    trust = TrustStore.from_pem(G3_TEST.read_bytes()).pinned_to_access_point_cas()
    path = validate_ap_certificate(cert, trust, at=datetime(2026, 1, 29, 16, 0, tzinfo=UTC))
    assert "ACCESS POINT TEST CA - G3" in path[1].subject.rfc4514_string()
    with pytest.raises(CertificateRejected) as info:  # the production chain does not accept a TEST AP
        validate_ap_certificate(
            cert, TrustStore.from_pem(G3_TEST.with_name("ap-prod-truststore-g3.pem").read_bytes()), at=NOW
        )
    assert info.value.reason is CertRejection.UNTRUSTED


def test_dump_raw_decryption_fails_cleanly() -> None:
    headers, body = split_raw_message(_vector("dump-raw.as4out"))
    with pytest.raises(InboundMessageRejected) as info:
        receive(
            headers,
            body,
            trust=TrustStore.from_pem(G3_TEST.read_bytes()),
            at=datetime(2026, 1, 29, 16, 0, tzinfo=UTC),  # after its eb:Timestamp
        )
    assert info.value.ebms is EbmsError.FAILED_DECRYPTION
    assert info.value.ref_to_message_id
    assert info.value.ref_to_message_id.endswith("@phase4")


@pytest.mark.parametrize(
    ("name", "at"),
    [
        ("TestReceipt12.xml", datetime(2026, 6, 1, tzinfo=UTC)),
        ("helger.as4in", datetime(2022, 3, 7, tzinfo=UTC)),
        ("dataport1-mustunderstand.as4in", datetime(2022, 3, 7, tzinfo=UTC)),
    ],
)
def test_foreign_receipts_verify(name: str, at: datetime) -> None:
    root = load_signal({}, _vector(name))
    cert = verify_signal_signature(root)
    assert cert.not_valid_before_utc <= at <= cert.not_valid_after_utc
    signal_id, ref_to, errors, receipt = read_signal(root)
    assert receipt is not None
    assert not errors
    assert signal_id
    assert ref_to


def test_rewritten_prefix_receipt_fails() -> None:
    root = load_signal({}, _vector("dataport1.as4in"))
    with pytest.raises(RemoteProtocolError) as info:
        verify_signal_signature(root)
    assert info.value.ebms is EbmsError.FAILED_AUTHENTICATION
    assert "digest" in info.value.detail


@pytest.mark.parametrize("name", ["WrongSigningAlgorithm.xml", "WrongSigningDigestAlgorithm.xml"])
def test_wrong_algorithms_give_ebms_error(name: str) -> None:
    with pytest.raises(InboundMessageRejected) as info:
        receive({"Content-Type": "application/soap+xml"}, _vector(name))
    assert info.value.ebms is EbmsError.FAILED_AUTHENTICATION
    assert "not supported" in info.value.detail or "not allowed" in info.value.detail


@pytest.mark.parametrize("name", ["UserMessage12.xml", "test-2023-03-15.xml"])
def test_unsigned_examples_parse_as_headers(name: str) -> None:
    from gateway.as4.envelope import read_user_message, split_envelope  # header reading only: no security
    from gateway.as4.pmode import PEPPOL_PMODE, check_user_message

    env = etree.fromstring(_vector(name))
    _, _, messaging, _ = (
        split_envelope(env)
        if env.find(".//{*}Security") is not None
        else (None, None, env.find(".//{*}Messaging"), None)
    )
    hdr = read_user_message(messaging)
    assert hdr.message_id
    assert hdr.timestamp
    assert hdr.action == hdr.action.strip()
    assert hdr.action
    if name == "test-2023-03-15.xml":
        assert "+01:00" in hdr.timestamp
        assert "<!--" not in hdr.action
        assert hdr.action.startswith("busdox-docid-qns::")
        # A real Peppol header (.NET timestamp with an offset): the P-Mode accepts it (peppol-as4.md §3).
        check_user_message(hdr.user_message, pmode=PEPPOL_PMODE, at=datetime(2023, 3, 16, tzinfo=UTC))
    # As full messages they are unsigned: rejected with EBMS:0101, never a crash.
    with pytest.raises(InboundMessageRejected) as info:
        receive({"Content-Type": "application/soap+xml"}, _vector(name))
    assert info.value.ebms in (EbmsError.FAILED_AUTHENTICATION, EbmsError.INVALID_HEADER)


def test_message_signed_with_expired_real_key_is_rejected() -> None:
    key = load_key_material(_vector("peppol-expired-ap-cert-pw-peppol.p12"), password="peppol")
    assert key.certificate.not_valid_after_utc < NOW
    out = build_user_message(
        make_sbd(),
        sender=key,
        receiver_certificate=dev_pki().receiver.certificate,
        message_id="x@y",
        timestamp=NOW,
        new_id=counter_ids(),
    )
    with pytest.raises(InboundMessageRejected) as info:
        receive(dict(out.headers), out.body)
    assert info.value.ebms is EbmsError.FAILED_AUTHENTICATION
    with pytest.raises(CertificateRejected) as cert_info:
        validate_ap_certificate(key.certificate, dev_pki().trust, at=NOW)
    assert cert_info.value.reason is CertRejection.EXPIRED
