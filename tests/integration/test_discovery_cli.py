"""``gateway devnet``: the local network started from the CLI (a real process) and asked from the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.cli.main import main

pytestmark = pytest.mark.slow

RECEIVER = "0208:0739484052"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, object]]]:
    root = tmp_path_factory.mktemp("devnet")
    assert main(["certs", "dev-pki", str(root / "pki")]) == 0
    registry = {
        "participants": {
            RECEIVER: [
                {
                    "document_types": ["invoice"],
                    "url": "http://127.0.0.1:9/as4",
                    "certificate_file": "pki/pop000001.cert.pem",
                }
            ]
        }
    }
    (root / "registry.json").write_text(json.dumps(registry))
    command = [
        sys.executable,
        "-m",
        "gateway.cli.main",
        "devnet",
        "serve",
        "--registry",
        str(root / "registry.json"),
    ]
    command += ["--pki", str(root / "pki"), "--dns-port", "0", "--smp-port", "0"]
    log = (root / "serve.log").open("w")
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, text=True) as process:
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            if not line:
                pytest.fail(f"devnet serve did not start: {(root / 'serve.log').read_text()}")
            yield root, json.loads(line)
        finally:
            process.terminate()
            assert process.wait(timeout=10) == 0
            log.close()


def _lookup(
    served: tuple[Path, dict[str, object]],
    participant: str,
    document: str,
    capsys: pytest.CaptureFixture[str],
) -> tuple[int, dict[str, object]]:
    root, info = served
    sml = info["sml"]
    assert isinstance(sml, dict)
    code = main(
        [
            "devnet",
            "lookup",
            participant,
            "--document",
            document,
            "--pki",
            str(root / "pki"),
            "--dns",
            f"127.0.0.1:{sml['port']}",
        ]
    )
    return code, json.loads(capsys.readouterr().out)


def test_serve_prints_its_addresses(served: tuple[Path, dict[str, object]]) -> None:
    _, info = served
    assert info["participants"] == [RECEIVER]
    assert str(info["smp"]).startswith("http://127.0.0.1:")


def test_lookup_found(served: tuple[Path, dict[str, object]], capsys: pytest.CaptureFixture[str]) -> None:
    code, result = _lookup(served, RECEIVER, "invoice", capsys)
    assert code == 0
    assert result["outcome"] == "found"
    assert result["endpoint"] == {
        "url": "http://127.0.0.1:9/as4",
        "certificate_subject": "CN=POP000001,OU=PEPPOL TEST AP,O=Gateway Development AP,C=BE",
    }


@pytest.mark.parametrize(
    ("participant", "document", "outcome"),
    [
        (RECEIVER, "credit-note", "document-type-not-supported"),
        ("0208:0000000097", "invoice", "not-registered"),
    ],
)
def test_lookup_explains_why_not(
    served: tuple[Path, dict[str, object]],
    capsys: pytest.CaptureFixture[str],
    participant: str,
    document: str,
    outcome: str,
) -> None:
    code, result = _lookup(served, participant, document, capsys)
    assert code == 1
    assert result["outcome"] == outcome
    assert result["retryable"] is False


def test_host_prints_the_sml_name(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["devnet", "host", "0088:123ABC", "--zone", "test"]) == 0
    assert capsys.readouterr().out.strip() == (
        "y7dzfxaf3d4cjz4kcgrxtec6twvcga4ky7zwa5boif6mswd4tdrq.iso6523-actorid-upis.participant.sml.test.tech.peppol.org."
    )


def test_serve_over_tls_and_lookup_with_the_printed_ca_bundle(
    served: tuple[Path, dict[str, object]], capsys: pytest.CaptureFixture[str]
) -> None:
    root, _ = served
    command = [
        sys.executable,
        "-m",
        "gateway.cli.main",
        "devnet",
        "serve",
        "--registry",
        str(root / "registry.json"),
    ]
    command += ["--pki", str(root / "pki"), "--dns-port", "0", "--smp-port", "0", "--tls"]
    with (
        (root / "tls.log").open("w") as log,
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, text=True) as process,
    ):
        try:
            assert process.stdout is not None
            info = json.loads(process.stdout.readline())
            assert str(info["smp"]).startswith("https://127.0.0.1:")
            code = main(
                [
                    "devnet",
                    "lookup",
                    RECEIVER,
                    "--pki",
                    str(root / "pki"),
                    "--dns",
                    f"127.0.0.1:{info['sml']['port']}",
                    "--smp-ca-bundle",
                    str(info["smp_ca_bundle"]),
                ]
            )
            assert code == 0, capsys.readouterr().out
        finally:
            process.terminate()
            assert process.wait(timeout=10) == 0
