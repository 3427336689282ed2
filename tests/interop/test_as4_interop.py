"""Both directions against independent implementations: PyPI as4 and peppol-py send to us, as4 receives from
us, Apache Santuario verifies and decrypts our messages, libxmlsec1 verifies our signals."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from interop_kit import KIT, Interop

from gateway.as4 import (
    EbmsError,
    IncomingUserMessage,
    OutgoingMessage,
    SendOutcome,
    build_error,
    build_receipt,
    build_user_message,
    parse_incoming,
    verify_receipt,
)
from gateway.errors import InboundMessageRejected
from gateway.model import BIS_BILLING_PROCESS, BIS_INVOICE, ParticipantID
from gateway.ubl.sbdh import build_sbd

pytestmark = pytest.mark.interop
NOW = datetime(2026, 6, 1, tzinfo=UTC)


def _receive(interop: Interop, d: Path) -> IncomingUserMessage:
    headers = json.loads((d / "headers.json").read_text())
    return parse_incoming(
        headers, (d / "body.bin").read_bytes(), our_key=interop.key("ap2"), trust=interop.trust, at=interop.at
    )


def _receipt(interop: Interop, inc: IncomingUserMessage, path: Path) -> Path:
    path.write_bytes(
        build_receipt(
            inc, key=interop.key("ap2"), message_id=f"{uuid.uuid4()}@gateway.test", timestamp=interop.at
        )
    )
    return path


@pytest.mark.parametrize("impl", ["as4", "peppol-py"])
def test_peer_message_accepted_and_our_receipt_verifies(interop: Interop, tmp_path: Path, impl: str) -> None:
    m = tmp_path / "m"
    interop.run("peer-send", "--impl", impl, "--out", m)
    inc = _receive(interop, m)
    assert inc.sbd == (m / "sbd.xml").read_bytes()
    meta = json.loads((m / "meta.json").read_text())
    assert inc.message_id == meta["message_id"]
    assert (inc.from_party, inc.to_party) == ("POP000001", "POP000002")
    signal = _receipt(interop, inc, tmp_path / "receipt.xml")
    interop.run(
        "receipt-verify",
        signal,
        "--cert",
        interop.pki / "ap2.cert.pem",
        "--expect-kind",
        "receipt",
        "--expect-ref",
        inc.message_id,
    )
    if impl == "as4":  # the strict NRI check of the as4 sender
        v = interop.json("peer-send", "--check-receipt", signal, "--out", m)
        assert v["state"] == "acknowledged"
        assert v["receipt_verified"] is True
    interop.run("santuario-check", signal, "--cert", interop.pki / "ap2.cert.pem")


def test_receipt_of_as4_for_other_message_is_refused_by_as4(interop: Interop, tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    interop.run("peer-send", "--impl", "as4", "--out", a)
    interop.run("peer-send", "--impl", "as4", "--out", b)
    signal = _receipt(interop, _receive(interop, a), tmp_path / "r.xml")
    v = interop.json("peer-send", "--check-receipt", signal, "--out", b, expect=1)
    assert v["state"] != "acknowledged"


def _our_message(interop: Interop, d: Path, *, sender: str = "ap1") -> tuple[OutgoingMessage, bytes]:
    sbd = build_sbd(
        (KIT / "samples" / "invoice.xml").read_bytes(),
        sender=ParticipantID.parse("0088:7300010000001"),
        receiver=ParticipantID.parse("0088:7300010000002"),
        document_type=BIS_INVOICE,
        process=BIS_BILLING_PROCESS,
        country_c1="BE",
        instance_id=str(uuid.uuid4()),
        created=NOW,
    )
    key = interop.key(sender)
    recv = interop.key("ap2").certificate
    out = build_user_message(
        sbd, sender=key, receiver_certificate=recv, message_id=f"{uuid.uuid4()}@gateway.test", timestamp=NOW
    )
    d.mkdir(parents=True)
    (d / "headers.json").write_text(json.dumps(dict(out.headers)))
    (d / "body.bin").write_bytes(out.body)
    (d / "sbd.xml").write_bytes(sbd)
    return out, sbd


def test_our_message_accepted_by_as4_and_santuario(interop: Interop, tmp_path: Path) -> None:
    d = tmp_path / "msg"
    out, _ = _our_message(interop, d)
    v = interop.json("peer-receive", d, "--out", tmp_path / "rx", "--expect-payload", d / "sbd.xml")
    assert v["accepted"] is True
    assert v["message_id"] == out.message_id
    r = interop.run("santuario-check", d, "--p12", interop.pki / "ap2.p12", "--password", "test")
    assert "RESULT VALID" in r.stdout
    assert "DECRYPT" in r.stdout
    assert "COVERAGE OK" in r.stdout
    signal = (tmp_path / "rx" / "signal.xml").read_bytes()
    verdict = verify_receipt(
        {"Content-Type": "application/soap+xml"}, signal, out, trust=interop.trust, at=interop.at
    )
    assert verdict.outcome is SendOutcome.SUCCESS, verdict.detail


def test_as4_rejects_our_tampered_message_and_we_read_its_error(interop: Interop, tmp_path: Path) -> None:
    d = tmp_path / "msg"
    out, _ = _our_message(interop, d)
    interop.run("msg-tamper", d, "--kind", "ciphertext", "--out", tmp_path / "t")
    v = interop.json("peer-receive", tmp_path / "t", "--out", tmp_path / "rx", expect=1)
    assert v["ebms_error"] == "EBMS:0102"
    verdict = verify_receipt({}, (tmp_path / "rx" / "signal.xml").read_bytes(), out)
    assert verdict.outcome is SendOutcome.AS4_ERROR_MESSAGE_RECEIVED
    assert verdict.ebms is EbmsError.FAILED_DECRYPTION
    assert not verdict.is_retryable


@pytest.mark.parametrize(
    ("kind", "code"),
    [
        ("to-party", EbmsError.FAILED_AUTHENTICATION),
        ("final-recipient", EbmsError.FAILED_AUTHENTICATION),
        ("ciphertext", EbmsError.FAILED_DECRYPTION),
        ("signature-value", EbmsError.FAILED_AUTHENTICATION),
    ],
)
@pytest.mark.parametrize("impl", ["as4", "peppol-py"])
def test_tampered_peer_messages_rejected(
    interop: Interop, tmp_path: Path, impl: str, kind: str, code: EbmsError
) -> None:
    interop.run("peer-send", "--impl", impl, "--out", tmp_path / "m")
    interop.run("msg-tamper", tmp_path / "m", "--kind", kind, "--out", tmp_path / "t")
    with pytest.raises(InboundMessageRejected) as info:
        _receive(interop, tmp_path / "t")
    assert info.value.ebms is code
    assert (
        info.value.ref_to_message_id == json.loads((tmp_path / "m" / "meta.json").read_text())["message_id"]
    )


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (
            ("--sender-key", "expired.key.pem", "--sender-cert", "expired.cert.pem"),
            EbmsError.FAILED_AUTHENTICATION,
        ),
        (
            ("--sender-key", "untrusted.key.pem", "--sender-cert", "untrusted.cert.pem"),
            EbmsError.FAILED_AUTHENTICATION,
        ),
        (("--from-party", "POP000009"), None),
        (("--receiver-cert", "ap1.cert.pem"), EbmsError.FAILED_DECRYPTION),
    ],
)
def test_bad_peer_messages_rejected(
    interop: Interop, tmp_path: Path, args: tuple[str, ...], code: EbmsError | None
) -> None:
    from gateway.as4 import CN_MISMATCH_ERROR

    resolved = [str(interop.pki / a) if a.endswith(".pem") else a for a in args]
    interop.run("peer-send", "--impl", "as4", *resolved, "--out", tmp_path / "m")
    with pytest.raises(InboundMessageRejected) as info:
        _receive(interop, tmp_path / "m")
    assert info.value.ebms is (code or CN_MISMATCH_ERROR)


def test_our_error_signal_verifies_with_libxmlsec(interop: Interop, tmp_path: Path) -> None:
    sig = build_error(
        "x@peer",
        EbmsError.FAILED_AUTHENTICATION,
        key=interop.key("ap2"),
        message_id="e@gateway.test",
        timestamp=NOW,
    )
    (tmp_path / "e.xml").write_bytes(sig)
    interop.run("receipt-verify", tmp_path / "e.xml", "--expect-kind", "error", "--expect-ref", "x@peer")
