"""XML-DSig / XML-Enc primitives: exclusive C14N as parsed, AES-GCM framing, OAEP with declared parameters."""

from __future__ import annotations

import pytest
from as4_support import dev_pki
from lxml import etree

from gateway.crypto import (
    PEPPOL_POLICY,
    DigestAlgorithm,
    MGFAlgorithm,
    aes_gcm_decrypt,
    aes_gcm_encrypt,
    exc_c14n,
    read_signed_info,
    rsa_oaep_unwrap,
    rsa_oaep_wrap,
)
from gateway.errors import DecryptionFailed, SignatureInvalid


def test_c14n_namespace_order_is_by_code_point() -> None:
    # peppol-as4.md §14 item 5: xmlns:S12 sorts before xmlns:eb3 (xml-crypto got this wrong).
    doc = etree.fromstring(
        b'<S12:E xmlns:S12="urn:s" xmlns:eb3="urn:e">'
        b'<eb3:M S12:mustUnderstand="true"><!-- c -->x</eb3:M></S12:E>'
    )
    out = exc_c14n(doc[0], ("S12",))
    assert out == b'<eb3:M xmlns:S12="urn:s" xmlns:eb3="urn:e" S12:mustUnderstand="true">x</eb3:M>'


def test_c14n_keeps_unusual_prefixes_as_parsed() -> None:
    doc = etree.fromstring(
        b'<e:Envelope xmlns:e="urn:s"><eb:M xmlns:eb="urn:e" xmlns:mustUnderstand="urn:s" '
        b'mustUnderstand:mustUnderstand="true"/></e:Envelope>'
    )
    assert b'xmlns:mustUnderstand="urn:s"' in exc_c14n(doc[0])


def test_aes_gcm_framing_and_tamper() -> None:
    key, iv = b"k" * 16, b"i" * 12
    data = aes_gcm_encrypt(key, b"payload", iv)
    assert data[:12] == iv
    assert len(data) == 12 + 7 + 16
    assert aes_gcm_decrypt(key, data) == b"payload"
    with pytest.raises(DecryptionFailed):
        aes_gcm_decrypt(key, data[:-1] + bytes([data[-1] ^ 1]))
    with pytest.raises(DecryptionFailed):
        aes_gcm_decrypt(key, b"short")


def test_oaep_declared_parameters_must_match() -> None:
    p = dev_pki()
    pub = p.receiver.certificate.public_key()
    wrapped = rsa_oaep_wrap(pub, b"k" * 16, digest=DigestAlgorithm.SHA256, mgf=MGFAlgorithm.MGF1_SHA256)  # type: ignore[arg-type]
    key = p.receiver.private_key
    assert (
        rsa_oaep_unwrap(key, wrapped, digest=DigestAlgorithm.SHA256, mgf=MGFAlgorithm.MGF1_SHA256)
        == b"k" * 16
    )
    with pytest.raises(DecryptionFailed):
        rsa_oaep_unwrap(key, wrapped, digest=DigestAlgorithm.SHA1, mgf=MGFAlgorithm.MGF1_SHA1)


def test_signed_info_policy() -> None:
    sig = etree.fromstring(
        b'<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo>'
        b'<ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>'
        b'<ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/>'
        b'<ds:Reference URI="#a"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/TR/1999/REC-xslt-19991116"/>'
        b'</ds:Transforms><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>'
        b"<ds:DigestValue>AA==</ds:DigestValue></ds:Reference></ds:SignedInfo></ds:Signature>"
    )
    with pytest.raises(SignatureInvalid, match="transform"):
        read_signed_info(sig, PEPPOL_POLICY)
