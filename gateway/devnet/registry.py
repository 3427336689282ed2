"""The devnet registry file: which participants the local SML and SMP publish, and where they receive.

JSON (one object)::

    {
      "zone": "sml.devnet.test",                         # optional, the SML zone
      "participants": {
        "0208:0739484052": [
          {"document_types": ["invoice", "credit-note"],  # short names or full busdox-docid-qns ids
           "process": "cenbii-procid-ubl::urn:fdc:...",   # optional: the BIS process of the document types
           "url": "http://127.0.0.1:8080/as4",
           "certificate_file": "pop000001.cert.pem",       # or "certificate": "<PEM>"; relative to the file
           "transport_profile": "peppol-transport-as4-v2_0",  # optional
           "activation": "2026-01-01T00:00:00Z", "expiration": "..."}  # optional
        ]
      }
    }

Every problem is reported at once with its location, like the participant directory.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from cryptography import x509

from gateway.devnet.documents import DevEndpoint, DevService
from gateway.devnet.sml import DEVNET_ZONE
from gateway.errors import ConfigurationError, GatewayError
from gateway.model.identifiers import BIS_BILLING_PROCESS, DocumentTypeID, ParticipantID, ProcessID
from gateway.services.participant_lookup import DOCUMENT_KINDS
from gateway.smp import AS4_TRANSPORT_PROFILE

#: Short document names (the ones ``GET /v1/participants/...?document=`` uses) -> (document type, process).
DOCUMENTS: Final = DOCUMENT_KINDS
_KEYS: Final = frozenset(
    {
        "document_types",
        "process",
        "url",
        "certificate",
        "certificate_file",
        "transport_profile",
        "activation",
        "expiration",
    }
)


@dataclass(frozen=True, slots=True)
class Registry:
    """The participants of the local network and the SML zone."""

    zone: str
    participants: dict[ParticipantID, tuple[DevService, ...]]


def load_registry(path: Path) -> Registry:
    """Read and check a registry file.

    Raises:
        ConfigurationError: unreadable, not JSON, or with problems (all listed).
    """
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"devnet registry {path}: {exc}") from exc
    return parse_registry(data, base_dir=path.parent, source=str(path))


def parse_registry(data: Any, *, base_dir: Path, source: str = "devnet registry") -> Registry:
    """Check decoded registry JSON (see the module docstring).

    Raises:
        ConfigurationError: listing every problem.
    """
    if not isinstance(data, dict) or not isinstance(data.get("participants"), dict):
        raise ConfigurationError(f"{source}: expected an object with a 'participants' object")
    zone = data.get("zone", DEVNET_ZONE)
    problems: list[str] = [] if isinstance(zone, str) and zone else [f"{source}: 'zone' must be a DNS name"]
    participants: dict[ParticipantID, tuple[DevService, ...]] = {}
    for key, entries in data["participants"].items():
        try:
            participant = ParticipantID.parse(key)
        except GatewayError as exc:
            problems.append(f"{key}: {exc}")
            continue
        if not isinstance(entries, list) or not entries:
            problems.append(f"{key}: must be a non-empty list of endpoints")
            continue
        grouped: dict[DocumentTypeID, list[tuple[ProcessID, DevEndpoint]]] = defaultdict(list)
        for index, entry in enumerate(entries):
            for document_type, process, endpoint in _entry(entry, f"{key}[{index}]", base_dir, problems):
                grouped[document_type].append((process, endpoint))
        participants[participant] = tuple(_service(d, pairs) for d, pairs in grouped.items())
    if problems:
        raise ConfigurationError(f"{source}: " + "; ".join(problems))
    return Registry(str(zone), participants)


def _service(document_type: DocumentTypeID, pairs: list[tuple[ProcessID, DevEndpoint]]) -> DevService:
    by_process: dict[ProcessID, list[DevEndpoint]] = defaultdict(list)
    for process, endpoint in pairs:
        by_process[process].append(endpoint)
    return DevService(document_type, tuple((p, tuple(e)) for p, e in by_process.items()))


def _entry(
    entry: Any, where: str, base_dir: Path, problems: list[str]
) -> list[tuple[DocumentTypeID, ProcessID, DevEndpoint]]:
    if not isinstance(entry, dict):
        problems.append(f"{where}: must be an object")
        return []
    before = len(problems)
    unknown = sorted(set(entry) - _KEYS)
    if unknown:
        problems.append(f"{where}: unknown field(s) {', '.join(unknown)}")
    documents = entry.get("document_types")
    if not isinstance(documents, list) or not documents or not all(isinstance(d, str) for d in documents):
        problems.append(f"{where}.document_types: must be a non-empty list of names or document type ids")
        documents = []
    process_text = entry.get("process")
    url = entry.get("url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        problems.append(f"{where}.url: must be an http(s) URL")
    certificate = _certificate(entry, where, base_dir, problems)
    activation = _date(entry.get("activation"), f"{where}.activation", problems)
    expiration = _date(entry.get("expiration"), f"{where}.expiration", problems)
    out: list[tuple[DocumentTypeID, ProcessID, DevEndpoint]] = []
    for name in documents:
        try:
            document_type, process = DOCUMENTS.get(name) or (DocumentTypeID.parse(name), BIS_BILLING_PROCESS)
            if isinstance(process_text, str):
                process = ProcessID.parse(process_text)
        except GatewayError as exc:
            problems.append(f"{where}.document_types: {exc}")
            continue
        if certificate is not None and isinstance(url, str):
            profile = str(entry.get("transport_profile", AS4_TRANSPORT_PROFILE))
            out.append(
                (document_type, process, DevEndpoint(url, certificate, profile, activation, expiration))
            )
    return out if len(problems) == before else []


def _date(value: Any, where: str, problems: list[str]) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        problems.append(f"{where}: not an ISO 8601 date-time")
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _certificate(
    entry: dict[str, Any], where: str, base_dir: Path, problems: list[str]
) -> x509.Certificate | None:
    pem, file = entry.get("certificate"), entry.get("certificate_file")
    if (pem is None) == (file is None):
        problems.append(f"{where}: give exactly one of 'certificate' (PEM) or 'certificate_file'")
        return None
    try:
        data = (
            (base_dir / str(file)).read_bytes() if file is not None else str(pem).encode("ascii", "replace")
        )
        return x509.load_pem_x509_certificate(data)
    except (OSError, ValueError) as exc:
        problems.append(f"{where}: the certificate cannot be read: {exc}")
        return None
