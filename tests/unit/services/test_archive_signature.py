"""The archive's detached signature: SHA256SUMS signed with the AP key, checked by the gateway and by
``openssl dgst`` alone (the command the archive's README gives)."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest
from as4_support import dev_pki
from cryptography.hazmat.primitives.serialization import Encoding

from gateway.services.archive_signature import SIGNATURE, SIGNER, check_signature, sign_sums

SUMS = b"0" * 64 + b"  outbound/d/document.xml\n" + b"1" * 64 + b"  manifest.json\n"


def test_a_signature_verifies_and_names_the_signer() -> None:
    signature, chain = sign_sums(dev_pki().sender, hashlib.sha256(SUMS).digest())
    check = check_signature(hashlib.sha256(SUMS).digest(), signature, chain)
    assert check.problem is None
    assert check.signer is not None
    assert "CN=POP000001" in check.signer
    assert chain.count(b"-----BEGIN CERTIFICATE-----") == 1 + len(dev_pki().sender.chain)


def test_other_sums_another_certificate_or_no_certificate_fail() -> None:
    digest = hashlib.sha256(SUMS).digest()
    signature, chain = sign_sums(dev_pki().sender, digest)
    changed = hashlib.sha256(SUMS.replace(b"0", b"2", 1)).digest()
    assert check_signature(changed, signature, chain).problem == (
        f"{SIGNATURE}: does not verify over SHA256SUMS with {SIGNER}"
    )
    other = dev_pki().receiver.certificate.public_bytes(Encoding.PEM)
    assert check_signature(digest, signature, other).problem is not None
    assert check_signature(digest, signature[:-1] + bytes([signature[-1] ^ 1]), chain).problem is not None
    problem = check_signature(digest, signature, b"not a certificate").problem
    assert problem is not None
    assert problem.startswith(f"{SIGNER}: no certificate")


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed")
def test_openssl_verifies_the_signature_over_the_file(tmp_path: Path) -> None:
    signature, chain = sign_sums(dev_pki().sender, hashlib.sha256(SUMS).digest())
    (tmp_path / "SHA256SUMS").write_bytes(SUMS)
    (tmp_path / SIGNATURE).write_bytes(signature)
    (tmp_path / SIGNER).write_bytes(chain)
    key = subprocess.run(
        ["openssl", "x509", "-in", SIGNER, "-pubkey", "-noout"], cwd=tmp_path, check=True, capture_output=True
    ).stdout
    (tmp_path / "ap-key.pem").write_bytes(key)
    command = ["openssl", "dgst", "-sha256", "-verify", "ap-key.pem", "-signature", SIGNATURE, "SHA256SUMS"]
    assert subprocess.run(command, cwd=tmp_path, capture_output=True).returncode == 0
    (tmp_path / "SHA256SUMS").write_bytes(SUMS + b"\n")
    assert subprocess.run(command, cwd=tmp_path, capture_output=True).returncode != 0
