"""The ``sml`` discovery mode: SML (DNS NAPTR) or a fixed SMP URL -> signed SMP metadata -> an AS4 endpoint.

A recipe over ``gateway.smp`` (decisions, sans-IO) and two ports (DNS, HTTP); peppol-as4.md §9-§10. Every
lookup ends in one ``LookupOutcome``: :meth:`SMPResolver.lookup` returns it as data (for "can this
participant receive?" questions), :meth:`SMPResolver.resolve` raises the matching ``DiscoveryError`` (the
``EndpointResolver`` port of the delivery recipe).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

import anyio.to_thread
from cryptography import x509
from lxml import etree

from gateway.crypto import TrustStore
from gateway.errors import ConfigurationError, DetailCode, DiscoveryError, EndpointNotActive, XMLInputError
from gateway.model.identifiers import DocumentTypeID, ParticipantID, ProcessID
from gateway.services.ports import Clock, Endpoint
from gateway.smp import (
    MAX_SMP_RESPONSE_BYTES,
    DiscoveryPolicy,
    LookupCache,
    LookupOutcome,
    NaptrAnswer,
    Redirect,
    SelectedEndpoint,
    ServiceInformation,
    SMPHTTPResponse,
    check_answer_identity,
    check_endpoint_url,
    check_remote_host,
    check_smp_url,
    metadata_body,
    outcome_of,
    participant_host,
    read_service_group,
    read_service_metadata,
    referenced_document_types,
    select_endpoint,
    service_group_body,
    service_group_url,
    service_metadata_url,
    signer_matches_uid,
    smp_url_from_answer,
    verify_signed_metadata,
)
from gateway.xmlcore import parse_xml

log = logging.getLogger(__name__)


class NAPTRLookup(Protocol):
    """Port: NAPTR records of one DNS name (``gateway.transport.dns.DNSNaptrLookup``)."""

    async def naptr(self, name: str) -> NaptrAnswer:
        """The answer for ``name``; raises ``DiscoveryUnavailable`` when DNS cannot answer."""
        ...


class SMPFetcher(Protocol):
    """Port: one HTTP GET without following redirects (``gateway.transport.smp_http.HTTPSMPFetcher``)."""

    async def get(self, url: str) -> SMPHTTPResponse:
        """The status and body; raises ``DiscoveryUnavailable`` when the SMP cannot be reached."""
        ...


def served_by(url: str) -> tuple[str, DetailCode]:
    """The detail of a found endpoint at ``url`` and its ``detail_code``."""
    return f"served by {url}", DetailCode("served", {"url": url})


@dataclass(frozen=True, slots=True)
class LookupResult:
    """What a lookup found, or exactly why not.

    Attributes:
        outcome: :attr:`LookupOutcome.FOUND` or the failure class.
        detail: one sentence for people (support staff, the API's problem detail).
        participant / document_type / process: what was asked.
        smp_url: the SMP base URL used (None when the SML already said no).
        endpoint: the endpoint when found.
        checked_at: the time of the lookup (a cached result keeps its first time).
        cached: True when this answer came from the lookup cache (no network).
        detail_code: what ``detail`` says, as data (``gateway.errors.DetailCode``), for a person's language;
            None for a sentence of no known shape (a certificate check's).
    """

    outcome: LookupOutcome
    detail: str
    participant: ParticipantID
    document_type: DocumentTypeID
    process: ProcessID
    checked_at: datetime
    smp_url: str | None = None
    endpoint: Endpoint | None = None
    cached: bool = False
    detail_code: DetailCode | None = None

    @property
    def is_retryable(self) -> bool:
        """Whether asking again later may give another answer."""
        return self.outcome.is_retryable


_Key = tuple[str, str, str, str]


def _key(receiver: ParticipantID, document_type: DocumentTypeID, process: ProcessID) -> _Key:
    return (receiver.key, document_type.scheme.lower(), document_type.value, process.uri)


class SMPResolver:
    """Discovery through SML + SMP, or through one configured SMP; implements ``EndpointResolver``.

    Args:
        fetcher: the SMP HTTP port.
        policy: stage, SMP signature trust, AP trust (see :class:`gateway.smp.DiscoveryPolicy`).
        clock: the time of every check (endpoint dates, certificate validity, cache).
        naptr: the DNS port; required with ``sml_zone``.
        sml_zone: ``production``, ``test`` or a zone name; exclusive with ``smp_url``.
        smp_url: a fixed SMP base URL (no SML): "not registered" then comes from the SMP's 404.
        cache: the lookup cache; None = a default one (15 min, negative 2 min).

    Raises:
        ConfigurationError: neither or both of ``sml_zone`` and ``smp_url``, or a zone without ``naptr``.
    """

    def __init__(
        self,
        *,
        fetcher: SMPFetcher,
        policy: DiscoveryPolicy,
        clock: Clock,
        naptr: NAPTRLookup | None = None,
        sml_zone: str | None = None,
        smp_url: str | None = None,
        cache: LookupCache[_Key, LookupResult] | None = None,
    ) -> None:
        if (sml_zone is None) == (smp_url is None):
            raise ConfigurationError("discovery needs exactly one of an SML zone or a fixed SMP URL")
        if sml_zone is not None and naptr is None:
            raise ConfigurationError("SML discovery needs a DNS (NAPTR) lookup")
        if smp_url is not None:
            try:
                check_smp_url(smp_url, policy.stage)
            except DiscoveryError as exc:
                raise ConfigurationError(f"configured SMP URL: {exc}") from exc
        self._fetcher = fetcher
        self._policy = policy
        self._clock = clock
        self._naptr = naptr
        self._zone = sml_zone
        self._smp_url = smp_url.rstrip("/") if smp_url is not None else None
        self._cache: LookupCache[_Key, LookupResult] = cache if cache is not None else LookupCache()

    @property
    def smp_trust(self) -> TrustStore:
        """The SMP signature trust of the stage (watched for expiry with the other trust anchors)."""
        return self._policy.smp_signature.trust

    async def resolve(
        self, receiver: ParticipantID, document_type: DocumentTypeID, process: ProcessID
    ) -> Endpoint:
        """Return the AS4 endpoint (``EndpointResolver``).

        Raises:
            DiscoveryError: the subclass of the outcome (``retryable`` says whether to try again).
        """
        result = await self.lookup(receiver, document_type, process)
        if result.endpoint is None:
            error = result.outcome.error(result.detail)
            error.detail_code = result.detail_code
            raise error
        return result.endpoint

    async def resolve_fresh(
        self, receiver: ParticipantID, document_type: DocumentTypeID, process: ProcessID
    ) -> Endpoint:
        """:meth:`resolve` without the cache (``RefreshableResolver``): a retry after a failed send asks
        the SML and SMP again, so a receiver that rotated its certificate is seen at once."""
        self._cache.discard(_key(receiver, document_type, process))
        return await self.resolve(receiver, document_type, process)

    async def lookup(
        self, receiver: ParticipantID, document_type: DocumentTypeID, process: ProcessID
    ) -> LookupResult:
        """Look the receiver up (cached); never raises for a discovery outcome."""
        now = self._clock.now()
        key = _key(receiver, document_type, process)
        cached = self._cache.get(key, now=now)
        if cached is not None:
            return replace(cached, cached=True)
        smp_url: str | None = None
        try:
            smp_url = await self._locate(receiver)
            selected = await self._select(smp_url, receiver, document_type, process, now)
        except DiscoveryError as exc:
            outcome = outcome_of(exc)
            result = LookupResult(
                outcome, str(exc), receiver, document_type, process, now, smp_url, detail_code=exc.detail_code
            )
            log.info("discovery of %s for %s: %s: %s", receiver, document_type.uri, outcome.value, exc)
            if not outcome.is_retryable:  # network failures are never cached
                # An endpoint not active yet is served from the cache until its activation date at most.
                active_from = exc.active_from if isinstance(exc, EndpointNotActive) else None
                self._cache.put(key, result, now=now, negative=True, not_after=active_from)
            return result
        endpoint = Endpoint(selected.endpoint.url, selected.certificate, selected.endpoint.transport_profile)
        detail, detail_code = served_by(endpoint.url)
        result = LookupResult(
            LookupOutcome.FOUND,
            detail,
            receiver,
            document_type,
            process,
            now,
            smp_url,
            endpoint,
            detail_code=detail_code,
        )
        # Never serve a cached endpoint past its ServiceExpirationDate or its certificate's end of validity.
        not_after = selected.certificate.not_valid_after_utc
        if selected.endpoint.expiration is not None:
            not_after = min(not_after, selected.endpoint.expiration)
        self._cache.put(key, result, now=now, not_after=not_after)
        return result

    async def _locate(self, receiver: ParticipantID) -> str:
        if self._smp_url is not None:
            return self._smp_url
        assert self._naptr is not None
        assert self._zone is not None
        answer = await self._naptr.naptr(participant_host(receiver, self._zone))
        return check_remote_host(
            check_smp_url(smp_url_from_answer(answer), self._policy.stage), self._policy.stage
        )

    async def _metadata(
        self, url: str, receiver: ParticipantID, *, first: bool, now: datetime
    ) -> tuple[ServiceInformation | Redirect, x509.Certificate]:
        response = await self._fetcher.get(url)
        if response.status == 404 and first and self._smp_url is not None:
            # Without an SML, only the SMP can say the participant is unknown (its service group is 404).
            service_group_body(await self._fetcher.get(service_group_url(self._smp_url, receiver)))
        root = _parse(metadata_body(response))
        verified = await anyio.to_thread.run_sync(
            lambda: verify_signed_metadata(root, self._policy.smp_signature, at=now)
        )
        return read_service_metadata(verified.signed), verified.signer

    async def _select(
        self,
        smp_url: str,
        receiver: ParticipantID,
        document_type: DocumentTypeID,
        process: ProcessID,
        now: datetime,
    ) -> SelectedEndpoint:
        url = service_metadata_url(smp_url, receiver, document_type)
        metadata, _ = await self._metadata(url, receiver, first=True, now=now)
        if isinstance(metadata, Redirect):
            # SMP 1.x §3.5 / peppol-as4.md §9.3: follow at most one Redirect; the target's answer must be
            # signed by an SMP certificate of the stage (as always) that its CertificateUID names.
            target = check_remote_host(check_smp_url(metadata.href, self._policy.stage), self._policy.stage)
            redirected, signer = await self._metadata(target, receiver, first=False, now=now)
            if isinstance(redirected, Redirect):
                raise LookupOutcome.BAD_SMP_RESPONSE.error(f"the redirect target {target} redirects again")
            if not signer_matches_uid(signer, metadata.certificate_uid):
                raise LookupOutcome.BAD_SMP_SIGNATURE.error(
                    f"the redirect target is signed by {signer.subject.rfc4514_string()},"
                    f" not by the redirect's CertificateUID {metadata.certificate_uid!r}"
                )
            metadata = redirected
        check_answer_identity(metadata, receiver, document_type)
        selected = select_endpoint(
            metadata,
            process,
            at=now,
            ap_trust=self._policy.ap_trust,
            revocation=self._policy.revocation,
            transport_profile=self._policy.transport_profile,
        )
        check_endpoint_url(selected.endpoint.url, self._policy.stage)  # where the document will be POSTed
        return selected

    async def document_types(self, receiver: ParticipantID) -> tuple[DocumentTypeID, ...]:
        """The document types the receiver's service group lists (to explain "not supported"; not cached).

        Raises:
            DiscoveryError: as :meth:`resolve`, for the SML and service group steps.
        """
        smp_url = await self._locate(receiver)
        group = read_service_group(
            _parse(service_group_body(await self._fetcher.get(service_group_url(smp_url, receiver))))
        )
        if group.participant != receiver:
            raise LookupOutcome.BAD_SMP_RESPONSE.error(
                f"the SMP answered for participant {group.participant}"
            )
        return referenced_document_types(group)


def _parse(body: bytes) -> etree._Element:
    try:
        return parse_xml(body, max_bytes=MAX_SMP_RESPONSE_BYTES, what="SMP answer")
    except XMLInputError as exc:
        raise LookupOutcome.BAD_SMP_RESPONSE.error(str(exc)) from exc
