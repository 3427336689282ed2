"""The blocking capability check of MLS and Invoice Responses (``endpoint_capability``): the local directory
is asked directly, without an event loop per check; a resolver that only has the coroutine (the SMP
resolver) is run to completion as before; both give the same answers."""

from __future__ import annotations

import asyncio

import pytest
from as4_support import dev_pki

import gateway.services.responses as responses_module
from gateway.errors import DiscoveryError, EndpointNotFound, ParticipantNotRegistered
from gateway.model import BIS_BILLING_PROCESS, BIS_INVOICE, DocumentTypeID, ParticipantID, ProcessID
from gateway.model.responses import MLS_DOCUMENT_TYPE, MLS_PROCESS
from gateway.services.ports import Endpoint, ImmediateResolver
from gateway.services.responses import endpoint_capability
from gateway.transport.directory import DirectoryEntry, LocalDirectory

LISTED = ParticipantID.parse("0242:000001")
UNKNOWN = ParticipantID.parse("0242:000009")


def _directory() -> LocalDirectory:
    endpoint = Endpoint("https://ap.example/as4", dev_pki().sender.certificate)
    entry = DirectoryEntry(frozenset({MLS_DOCUMENT_TYPE}), MLS_PROCESS, endpoint)
    return LocalDirectory({LISTED: (entry,)})


class CoroutineOnly:
    """A resolver with ``resolve`` only (like the SMP resolver): the directory's answers, or a failure."""

    def __init__(self, directory: LocalDirectory, failure: Exception | None = None) -> None:
        self._directory = directory
        self._failure = failure

    async def resolve(
        self, receiver: ParticipantID, document_type: DocumentTypeID, process: ProcessID
    ) -> Endpoint:
        await asyncio.sleep(0)  # a real suspension: it needs its event loop
        if self._failure is not None:
            raise self._failure
        return self._directory.lookup(receiver, document_type, process)


CASES = [
    (LISTED, MLS_DOCUMENT_TYPE, MLS_PROCESS, True),
    (LISTED, BIS_INVOICE, BIS_BILLING_PROCESS, False),  # listed, not for this type: EndpointNotFound
    (UNKNOWN, MLS_DOCUMENT_TYPE, MLS_PROCESS, False),  # ParticipantNotRegistered
]


@pytest.mark.parametrize(("participant", "document_type", "process", "expected"), CASES)
def test_the_directory_is_asked_without_an_event_loop(
    monkeypatch: pytest.MonkeyPatch,
    participant: ParticipantID,
    document_type: DocumentTypeID,
    process: ProcessID,
    expected: bool,
) -> None:
    directory = _directory()
    assert isinstance(directory, ImmediateResolver)

    def no_loop(coroutine: object) -> bool:
        raise AssertionError("an event loop was made for the local directory")

    monkeypatch.setattr(responses_module, "_run_blocking", no_loop)
    assert endpoint_capability(directory)(participant, document_type, process) is expected


@pytest.mark.parametrize(("participant", "document_type", "process", "expected"), CASES)
def test_a_coroutine_only_resolver_gives_the_same_answers(
    participant: ParticipantID, document_type: DocumentTypeID, process: ProcessID, expected: bool
) -> None:
    resolver = CoroutineOnly(_directory())
    assert not isinstance(resolver, ImmediateResolver)
    assert endpoint_capability(resolver)(participant, document_type, process) is expected


def test_a_lookup_failure_counts_as_capable_on_both_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    # The delivery worker retries the lookup like for any document: the response is queued.
    failing = CoroutineOnly(_directory(), DiscoveryError("SMP down"))
    assert endpoint_capability(failing)(LISTED, MLS_DOCUMENT_TYPE, MLS_PROCESS) is True

    directory = _directory()
    monkeypatch.setattr(directory, "resolve_now", _raises(DiscoveryError("SMP down")))
    assert endpoint_capability(directory)(LISTED, MLS_DOCUMENT_TYPE, MLS_PROCESS) is True
    monkeypatch.setattr(directory, "resolve_now", _raises(EndpointNotFound("none")))
    assert endpoint_capability(directory)(LISTED, MLS_DOCUMENT_TYPE, MLS_PROCESS) is False
    monkeypatch.setattr(directory, "resolve_now", _raises(ParticipantNotRegistered("none")))
    assert endpoint_capability(directory)(LISTED, MLS_DOCUMENT_TYPE, MLS_PROCESS) is False


def _raises(error: Exception) -> object:
    def resolve_now(*_: object) -> Endpoint:
        raise error

    return resolve_now
