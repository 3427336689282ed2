"""An ebMS Error ends a delivery only when it is as authentic as a receipt: signed with the certificate we
encrypted to and referring to our MessageId (peppol-as4.md §7.2-§7.3). Anything else is an invalid signal."""

from __future__ import annotations

from datetime import timedelta

import pytest
from as4_support import NOW, dev_pki, make_message
from lxml import etree

from gateway.as4 import EbmsError, OutgoingMessage, SendOutcome, build_error, verify_receipt
from gateway.crypto import KeyMaterial

DS = "{http://www.w3.org/2000/09/xmldsig#}"
INVALID = SendOutcome.INVALID_SIGNAL_MESSAGE_RECEIVED


def _error(
    msg: OutgoingMessage,
    *,
    key: KeyMaterial | None = None,
    ref_to: str | None = "",
    code: EbmsError | None = None,
) -> bytes:
    return build_error(
        msg.message_id if ref_to == "" else ref_to,
        code or EbmsError.FAILED_AUTHENTICATION,
        key=key or dev_pki().receiver,
        message_id="e@peer",
        timestamp=NOW,
    )


def _unsigned(signal: bytes) -> bytes:
    root = etree.fromstring(signal)
    sig = root.find(f".//{DS}Signature")
    sig.getparent().remove(sig)
    return etree.tostring(root)


def test_authentic_error_is_final_with_its_code() -> None:
    msg = make_message()
    v = verify_receipt({}, _error(msg), msg, trust=dev_pki().trust, at=NOW)
    assert v.outcome is SendOutcome.AS4_ERROR_MESSAGE_RECEIVED
    assert v.ebms is EbmsError.FAILED_AUTHENTICATION
    assert not v.is_retryable


def test_unsigned_error_is_an_invalid_signal() -> None:
    msg = make_message()
    v = verify_receipt({}, _unsigned(_error(msg)), msg)
    assert v.outcome is INVALID
    assert v.ebms is EbmsError.INVALID_RECEIPT
    assert "signature" in v.detail
    assert v.errors == (("EBMS:0101", "FailedAuthentication"),)  # kept for the log, not acted upon


def test_error_signed_by_another_trusted_ap_is_an_invalid_signal() -> None:
    msg = make_message()
    v = verify_receipt({}, _error(msg, key=dev_pki().sender), msg, trust=dev_pki().trust, at=NOW)
    assert v.outcome is INVALID
    assert "encrypted to" in v.detail


@pytest.mark.parametrize("ref_to", ["other@gateway.test", None])
def test_error_for_another_or_no_message_is_an_invalid_signal(ref_to: str | None) -> None:
    msg = make_message()
    v = verify_receipt({}, _error(msg, ref_to=ref_to), msg)
    assert v.outcome is INVALID
    assert "RefToMessageId" in v.detail


def test_tampered_error_code_is_an_invalid_signal() -> None:
    msg = make_message()
    signal = _error(msg, code=EbmsError.DELIVERY_FAILURE)
    tampered = signal.replace(b'errorCode="EBMS:0202"', b'errorCode="EBMS:0004"')
    assert tampered != signal
    v = verify_receipt({}, tampered, msg)
    assert v.outcome is INVALID
    assert "digest" in v.detail


def test_error_whose_signer_fails_path_validation_is_an_invalid_signal() -> None:
    msg = make_message()
    v = verify_receipt({}, _error(msg), msg, trust=dev_pki().trust, at=NOW + timedelta(days=3650))
    assert v.outcome is INVALID
    assert "expired" in v.detail
