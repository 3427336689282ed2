"""The local participant directory: loading, validation with located errors, and lookups."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from as4_support import RECEIVER, dev_pki

from gateway.errors import ConfigurationError, EndpointNotFound, ParticipantNotRegistered
from gateway.model import BIS_BILLING_PROCESS, BIS_CREDIT_NOTE, BIS_INVOICE, ParticipantID
from gateway.services.ports import AS4_TRANSPORT_PROFILE
from gateway.transport.directory import load_directory

PEM = dev_pki().pki.aps["POP000002"].cert_pem.decode()


def entry(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "document_types": [BIS_INVOICE.uri],
        "process": BIS_BILLING_PROCESS.uri,
        "url": "https://ap.receiver.test/as4",
        "certificate": PEM,
    }
    values.update(overrides)
    return {k: v for k, v in values.items() if v is not None}


def write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "directory.json"
    path.write_text(json.dumps(data))
    return path


def test_a_valid_directory_resolves_case_insensitively(tmp_path: Path) -> None:
    directory = load_directory(write(tmp_path, {"0088:7300010000002": [entry()]}))
    endpoint = directory.lookup(
        ParticipantID.parse("iso6523-actorid-upis::0088:7300010000002"), BIS_INVOICE, BIS_BILLING_PROCESS
    )
    assert endpoint.url == "https://ap.receiver.test/as4"
    assert endpoint.certificate == dev_pki().pki.aps["POP000002"].certificate
    assert endpoint.transport_profile == AS4_TRANSPORT_PROFILE
    upper = ParticipantID("0208", "BE0123ABC")
    directory = load_directory(write(tmp_path, {"0208:be0123abc": [entry()]}))
    assert asyncio.run(directory.resolve(upper, BIS_INVOICE, BIS_BILLING_PROCESS)).url.endswith("/as4")


def test_certificates_may_come_from_files_next_to_the_directory(tmp_path: Path) -> None:
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "receiver.pem").write_text(PEM)
    directory = load_directory(
        write(tmp_path, {str(RECEIVER): [entry(certificate=None, certificate_file="certs/receiver.pem")]})
    )
    assert (
        directory.lookup(RECEIVER, BIS_INVOICE, BIS_BILLING_PROCESS).certificate
        == dev_pki().pki.aps["POP000002"].certificate
    )


def test_unknown_participants_and_unserved_document_types_raise_discovery_errors(tmp_path: Path) -> None:
    directory = load_directory(write(tmp_path, {str(RECEIVER): [entry()]}))
    with pytest.raises(ParticipantNotRegistered, match="0208:0000000097"):
        directory.lookup(ParticipantID.parse("0208:0000000097"), BIS_INVOICE, BIS_BILLING_PROCESS)
    with pytest.raises(EndpointNotFound, match="CreditNote"):
        directory.lookup(RECEIVER, BIS_CREDIT_NOTE, BIS_BILLING_PROCESS)


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ([], "the top level must be an object"),
        ({"not-an-id": [entry()]}, "not-an-id: participant id"),
        ({str(RECEIVER): []}, "must be a non-empty list of endpoints"),
        ({"0088:ABC": [entry()], "0088:abc": [entry()]}, "listed twice"),
        (
            {str(RECEIVER): [entry(url="ftp://x/as4")]},
            "[0].url: 'ftp://x/as4' is not an absolute http(s) URL",
        ),
        ({str(RECEIVER): [entry(document_types=[])]}, "[0].document_types: must be a non-empty list"),
        ({str(RECEIVER): [entry(process=None)]}, "[0].process: must be a process id string"),
        (
            {str(RECEIVER): [entry(certificate="garbage")]},
            "[0]: the certificate is not a PEM X.509 certificate",
        ),
        ({str(RECEIVER): [entry(certificate=PEM + PEM)]}, "expected one certificate, found 2"),
        ({str(RECEIVER): [entry(certificate_file="x.pem")]}, "give exactly one of 'certificate'"),
        ({str(RECEIVER): [entry(certificate=None, certificate_file="missing.pem")]}, "cannot read"),
        (
            {str(RECEIVER): [entry(transport_profile="busdox-transport-as2-ver2p0")]},
            "only 'peppol-transport-as4-v2_0'",
        ),
        ({str(RECEIVER): [entry(colour="blue")]}, "unknown field(s) colour"),
        ({str(RECEIVER): ["x"]}, "[0]: must be an object"),
    ],
)
def test_problems_are_reported_with_their_location(tmp_path: Path, data: object, problem: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load_directory(write(tmp_path, data))
    assert problem in str(caught.value)
    assert str(tmp_path / "directory.json") in str(caught.value)


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    data = {str(RECEIVER): [entry(url=5), entry(process=7)], "bad": [entry()]}
    with pytest.raises(ConfigurationError) as caught:
        load_directory(write(tmp_path, data))
    message = str(caught.value)
    assert "[0].url" in message
    assert "[1].process" in message
    assert "bad:" in message


def test_unreadable_or_malformed_files_are_configuration_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot read"):
        load_directory(tmp_path / "absent.json")
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(ConfigurationError, match="not valid JSON"):
        load_directory(tmp_path / "broken.json")
