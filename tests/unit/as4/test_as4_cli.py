"""The ``gateway as4`` and ``gateway certs`` CLI modules, driven through their argparse registration."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from as4_support import INVOICE

from gateway.cli import as4 as as4_cli
from gateway.cli import certs as certs_cli


def _run(module: object, argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    module.register(parser.add_subparsers())  # type: ignore[attr-defined]
    args = parser.parse_args(argv)
    settings = SimpleNamespace(
        keystore=SimpleNamespace(path=None, password=None, cert_path=None),
        truststore=SimpleNamespace(paths=[]),
    )
    return int(args.func(args, settings))


def test_dev_pki_build_receive(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pki = tmp_path / "pki"
    assert _run(certs_cli, ["certs", "dev-pki", str(pki)]) == 0
    assert _run(certs_cli, ["certs", "dev-pki", str(pki)]) == 2  # refuses to overwrite
    assert (pki / "pop000001.p12").stat().st_mode & 0o077 == 0
    capsys.readouterr()
    msg = tmp_path / "msg"
    rc = _run(
        as4_cli,
        [
            "as4",
            "build",
            "--key",
            str(pki / "pop000001.p12"),
            "--password",
            "dev",
            "--receiver-cert",
            str(pki / "pop000002.cert.pem"),
            "--sender-id",
            "0208:0123456749",
            "--receiver-id",
            "0088:7300010000002",
            str(INVOICE),
            "-o",
            str(msg),
        ],
    )
    assert rc == 0
    assert (msg / "body.bin").exists()
    assert (msg / "headers.json").exists()
    built = json.loads(capsys.readouterr().out)
    out = tmp_path / "rx"
    rc = _run(
        as4_cli,
        [
            "as4",
            "receive",
            "--key",
            str(pki / "pop000002.key.pem"),
            "--cert",
            str(pki / "pop000002.cert.pem"),
            "--trust",
            str(pki / "root.pem"),
            "--trust",
            str(pki / "apca.pem"),
            str(msg),
            "--out",
            str(out),
        ],
    )
    verdict = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert verdict["accepted"] is True
    assert verdict["message_id"] == built["message_id"]
    assert verdict["payload_sha256"] == built["sbd_sha256"]
    assert (out / "payload.xml").read_bytes() == (msg / "sbd.xml").read_bytes()
    assert b"Receipt" in (out / "signal.xml").read_bytes()
    # Wrong key: rejected with EBMS:0102 and a signed error written.
    rc = _run(
        as4_cli,
        [
            "as4",
            "receive",
            "--key",
            str(pki / "pop000001.p12"),
            "--password",
            "dev",
            "--trust",
            str(pki / "root.pem"),
            "--trust",
            str(pki / "apca.pem"),  # the signer must be trusted first: it is validated before decryption
            str(msg),
            "--out",
            str(tmp_path / "rx2"),
        ],
    )
    verdict = json.loads(capsys.readouterr().out)
    assert rc == 1
    assert verdict["ebms_error"] == "EBMS:0102"
    assert b'errorCode="EBMS:0102"' in (tmp_path / "rx2" / "signal.xml").read_bytes()
