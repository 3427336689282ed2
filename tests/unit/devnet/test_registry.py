"""The devnet registry file: short document names, grouping, and every problem reported with its place."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.crypto import generate_dev_pki
from gateway.devnet import load_registry, parse_registry
from gateway.errors import ConfigurationError
from gateway.model.identifiers import (
    BIS_CREDIT_NOTE,
    BIS_INVOICE,
    INVOICE_RESPONSE,
    INVOICE_RESPONSE_PROCESS,
    ParticipantID,
)


@pytest.fixture(scope="module")
def cert_pem() -> str:
    return (
        generate_dev_pki(now=datetime.now(UTC), seat_ids=("POP000001",), smp_id=None)
        .aps["POP000001"]
        .cert_pem.decode()
    )


def test_registry_groups_documents_and_processes(cert_pem: str, tmp_path: Path) -> None:
    data = {
        "zone": "sml.example.test",
        "participants": {
            "0208:0739484052": [
                {
                    "document_types": ["invoice", "credit-note"],
                    "url": "http://127.0.0.1:1/as4",
                    "certificate": cert_pem,
                },
                {
                    "document_types": ["invoice-response"],
                    "url": "http://127.0.0.1:2/as4",
                    "certificate": cert_pem,
                    "activation": "2026-01-01T00:00:00",
                    "expiration": "2030-01-01T00:00:00Z",
                },
            ]
        },
    }
    registry = parse_registry(data, base_dir=tmp_path)
    assert registry.zone == "sml.example.test"
    services = {s.document_type: s for s in registry.participants[ParticipantID.parse("0208:0739484052")]}
    assert set(services) == {BIS_INVOICE, BIS_CREDIT_NOTE, INVOICE_RESPONSE}
    process, endpoints = services[INVOICE_RESPONSE].processes[0]
    assert process == INVOICE_RESPONSE_PROCESS
    assert endpoints[0].activation is not None
    assert endpoints[0].activation.tzinfo is not None


def test_every_problem_listed(tmp_path: Path) -> None:
    data = {
        "participants": {
            "nonsense": [],
            "0208:0739484052": [
                {
                    "document_types": [],
                    "url": "ftp://x",
                    "certificate": "junk",
                    "extra": 1,
                    "activation": "soon",
                }
            ],
            "0208:0000000097": "not a list",
        }
    }
    with pytest.raises(ConfigurationError) as exc:
        parse_registry(data, base_dir=tmp_path)
    text = str(exc.value)
    for expected in [
        "nonsense",
        "unknown field(s) extra",
        "document_types",
        ".url",
        "certificate cannot be read",
        "activation",
        "non-empty list",
    ]:
        assert expected in text


def test_unreadable_or_shapeless_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError):
        load_registry(tmp_path / "missing.json")
    (tmp_path / "r.json").write_text("[]")
    with pytest.raises(ConfigurationError, match="participants"):
        load_registry(tmp_path / "r.json")
