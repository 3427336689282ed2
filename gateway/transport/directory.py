"""The local participant directory: a JSON file standing in for SML/SMP until discovery is implemented.

File format (one object; keys are participant ids, ``0208:0739484052`` or ``iso6523-actorid-upis::...``)::

    {
      "0208:0739484052": [
        {
          "document_types": ["busdox-docid-qns::urn:oasis:names:specification:ubl:schema:xsd:Invoice-2::..."],
          "process": "cenbii-procid-ubl::urn:fdc:peppol.eu:2017:poacc:billing:01:1.0",
          "url": "https://ap.example.be/as4",
          "certificate": "-----BEGIN CERTIFICATE-----\\n...",
          "transport_profile": "peppol-transport-as4-v2_0"
        }
      ]
    }

``certificate`` holds the receiver AP certificate as PEM; ``certificate_file`` (a path relative to the
JSON file) may be given instead. ``transport_profile`` defaults to ``peppol-transport-as4-v2_0``. The file
is checked completely on load; every problem is reported at once with its location.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509

from gateway.errors import ConfigurationError, EndpointNotFound, GatewayError, ParticipantNotRegistered
from gateway.model.identifiers import DocumentTypeID, ParticipantID, ProcessID
from gateway.services.ports import AS4_TRANSPORT_PROFILE, Endpoint

_ENTRY_KEYS = frozenset(
    {"document_types", "process", "url", "certificate", "certificate_file", "transport_profile"}
)
_MAX_DIRECTORY_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class DirectoryEntry:
    """One endpoint of a participant: the document types and process it serves.

    Attributes:
        document_types: the document types accepted at this endpoint.
        process: the process they belong to.
        endpoint: URL, certificate and transport profile.
    """

    document_types: frozenset[DocumentTypeID]
    process: ProcessID
    endpoint: Endpoint


class LocalDirectory:
    """An in-memory participant directory implementing ``EndpointResolver`` (lookups are case-insensitive
    for participants, per the Peppol identifier policy, and exact for document types and processes)."""

    def __init__(self, entries: Mapping[ParticipantID, Iterable[DirectoryEntry]]) -> None:
        self._entries = {participant: tuple(items) for participant, items in entries.items()}

    @property
    def participants(self) -> frozenset[ParticipantID]:
        """Every participant listed."""
        return frozenset(self._entries)

    def lookup(self, receiver: ParticipantID, document_type: DocumentTypeID, process: ProcessID) -> Endpoint:
        """Synchronous form of :meth:`resolve`.

        Raises:
            ParticipantNotRegistered: the receiver is not listed.
            EndpointNotFound: the receiver is listed, but not for this document type and process.
        """
        entries = self._entries.get(receiver)
        if entries is None:
            raise ParticipantNotRegistered(
                f"participant {receiver} is not in the participant directory"
            ).coded("directory-unknown", participant=receiver)
        for entry in entries:
            if entry.process == process and document_type in entry.document_types:
                return entry.endpoint
        raise EndpointNotFound(
            f"participant {receiver} has no endpoint for document type {document_type.uri} "
            f"and process {process.uri}"
        ).coded(
            "directory-no-endpoint", participant=receiver, document=document_type.uri, process=process.uri
        )

    async def resolve(
        self, receiver: ParticipantID, document_type: DocumentTypeID, process: ProcessID
    ) -> Endpoint:
        """Return the endpoint (see ``gateway.services.ports.EndpointResolver``)."""
        return self.lookup(receiver, document_type, process)

    def resolve_now(
        self, receiver: ParticipantID, document_type: DocumentTypeID, process: ProcessID
    ) -> Endpoint:
        """:meth:`resolve` without a coroutine (``gateway.services.ports.ImmediateResolver``): the capability
        checks of MLS and Invoice Responses ask it without an event loop."""
        return self.lookup(receiver, document_type, process)


def load_directory(path: Path) -> LocalDirectory:
    """Read and check a participant directory file.

    Args:
        path: the JSON file; ``certificate_file`` entries are relative to its folder.

    Raises:
        ConfigurationError: the file cannot be read, is not JSON, or has problems (all listed, each
            with its location, e.g. ``0208:0739484052[0].url: ...``).
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"participant directory {path}: cannot read it: {exc.strerror}") from exc
    if len(raw) > _MAX_DIRECTORY_BYTES:
        raise ConfigurationError(f"participant directory {path}: larger than {_MAX_DIRECTORY_BYTES} bytes")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"participant directory {path}: not valid JSON: {exc}") from exc
    return parse_directory(data, base_dir=path.parent, source=str(path))


def parse_directory(data: Any, *, base_dir: Path, source: str = "participant directory") -> LocalDirectory:
    """Check decoded directory JSON and build the directory (see the module docstring for the format).

    Raises:
        ConfigurationError: listing every problem found.
    """
    problems: list[str] = []
    entries: dict[ParticipantID, list[DirectoryEntry]] = {}
    if not isinstance(data, dict):
        raise ConfigurationError(f"{source}: the top level must be an object of participant id -> endpoints")
    for key, items in data.items():
        try:
            participant = ParticipantID.parse(key)
        except GatewayError as exc:
            problems.append(f"{key}: {exc}")
            continue
        if participant in entries:
            # Participant ids compare case-insensitively: two spellings would make lookups ambiguous.
            problems.append(f"{key}: listed twice (participant ids are case-insensitive)")
            continue
        if not isinstance(items, list) or not items:
            problems.append(f"{key}: must be a non-empty list of endpoints")
            continue
        parsed: list[DirectoryEntry] = []
        for index, item in enumerate(items):
            entry = _parse_entry(item, f"{key}[{index}]", base_dir, problems)
            if entry is not None:
                parsed.append(entry)
        entries[participant] = parsed
    if problems:
        raise ConfigurationError(f"{source}: " + "; ".join(problems))
    return LocalDirectory(entries)


def _parse_entry(item: Any, where: str, base_dir: Path, problems: list[str]) -> DirectoryEntry | None:
    if not isinstance(item, dict):
        problems.append(f"{where}: must be an object")
        return None
    before = len(problems)
    unknown = sorted(set(item) - _ENTRY_KEYS)
    if unknown:
        problems.append(f"{where}: unknown field(s) {', '.join(unknown)}")
    document_types = _document_types(item.get("document_types"), where, problems)
    process = _process(item.get("process"), where, problems)
    url = _url(item.get("url"), where, problems)
    certificate = _certificate(item, where, base_dir, problems)
    profile = item.get("transport_profile", AS4_TRANSPORT_PROFILE)
    if profile != AS4_TRANSPORT_PROFILE:
        problems.append(f"{where}.transport_profile: only {AS4_TRANSPORT_PROFILE!r} is supported")
    if len(problems) > before or process is None or url is None or certificate is None:
        return None
    return DirectoryEntry(frozenset(document_types), process, Endpoint(url, certificate, profile))


def _document_types(value: Any, where: str, problems: list[str]) -> list[DocumentTypeID]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        problems.append(f"{where}.document_types: must be a non-empty list of document type ids")
        return []
    out: list[DocumentTypeID] = []
    for text in value:
        try:
            out.append(DocumentTypeID.parse(text))
        except GatewayError as exc:
            problems.append(f"{where}.document_types: {exc}")
    return out


def _process(value: Any, where: str, problems: list[str]) -> ProcessID | None:
    if not isinstance(value, str):
        problems.append(f"{where}.process: must be a process id string")
        return None
    try:
        return ProcessID.parse(value)
    except GatewayError as exc:
        problems.append(f"{where}.process: {exc}")
        return None


def _url(value: Any, where: str, problems: list[str]) -> str | None:
    if not isinstance(value, str):
        problems.append(f"{where}.url: must be a URL string")
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        # The HTTP transport refuses plain http except on loopback (peppol-as4.md §5: HTTPS only).
        problems.append(f"{where}.url: {value!r} is not an absolute http(s) URL")
        return None
    return value


def _certificate(
    item: dict[str, Any], where: str, base_dir: Path, problems: list[str]
) -> x509.Certificate | None:
    pem = item.get("certificate")
    file = item.get("certificate_file")
    if (pem is None) == (file is None):
        problems.append(f"{where}: give exactly one of 'certificate' (PEM) or 'certificate_file'")
        return None
    if file is not None:
        if not isinstance(file, str):
            problems.append(f"{where}.certificate_file: must be a path string")
            return None
        cert_path = base_dir / file
        try:
            data = cert_path.read_bytes()
        except OSError as exc:
            problems.append(f"{where}.certificate_file: cannot read {cert_path}: {exc.strerror}")
            return None
    elif isinstance(pem, str):
        data = pem.encode("ascii", "replace")
    else:
        problems.append(f"{where}.certificate: must be a PEM string")
        return None
    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError:
        problems.append(f"{where}: the certificate is not a PEM X.509 certificate")
        return None
    if len(certificates) != 1:
        problems.append(f"{where}: expected one certificate, found {len(certificates)}")
        return None
    return certificates[0]
