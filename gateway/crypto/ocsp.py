"""OCSP revocation checking, sans-IO: the caller supplies ``post_ocsp(url, request DER) -> response DER``;
this module builds the request (RFC 6960), verifies the signed answer and caches it. It answers the same
:class:`RevocationChecker` interface as the CRL checker, and :class:`CRLThenOCSP` combines both in the order
of peppol-as4.md §10.2 item 4 ("CRL before OCSP, hard fail, cached; soft-fail on unknown only as an
explicit opt-in").
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID

from gateway.crypto.certs import RevocationChecker, RevocationStatus

#: ``post_ocsp(url, der_request) -> der_response``. Any exception means "unavailable".
PostOCSP = Callable[[str, bytes], bytes]

DEFAULT_MAX_AGE: Final = timedelta(hours=6)  # like the CRL cache (phase4)
DEFAULT_RETRY_AFTER: Final = timedelta(minutes=5)
DEFAULT_MAX_OCSP_BYTES: Final = 64 * 1024
#: Clock skew tolerated on thisUpdate (RFC 6960 §4.2.2.1 leaves it to local policy).
CLOCK_SKEW: Final = timedelta(minutes=5)


def ocsp_urls(certificate: x509.Certificate) -> tuple[str, ...]:
    """The http(s) OCSP responder URLs of the certificate's Authority Information Access extension."""
    try:
        access = certificate.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except x509.ExtensionNotFound:
        return ()
    return tuple(
        d.access_location.value
        for d in access
        if d.access_method == AuthorityInformationAccessOID.OCSP
        and isinstance(d.access_location, x509.UniformResourceIdentifier)
        and d.access_location.value.lower().startswith(("http://", "https://"))
    )


@dataclass(frozen=True, slots=True)
class _Cached:
    status: RevocationStatus
    revoked_at: datetime | None
    valid_until: datetime


class OCSPRevocationChecker:
    """A :class:`RevocationChecker` over OCSP, cached until nextUpdate / ``max_age``.

    Outcomes: GOOD or REVOKED from a verified, current answer (signed by the issuer or by a responder
    certificate the issuer delegated with the OCSPSigning EKU); UNKNOWN when the responder says
    "unknown" (GOOD only with ``soft_fail_unknown``, an explicit opt-in) and when no usable answer can
    be had (GOOD only with ``soft_fail``). ``validate_ap_certificate`` rejects UNKNOWN: hard fail.

    Args:
        post_ocsp: sends one OCSP request (I/O lives with the caller, ``gateway.transport.ocsp_http``).
        soft_fail: an unreachable responder or an unusable answer counts as GOOD.
        soft_fail_unknown: the responder's "unknown" counts as GOOD.
        allowed_url_prefixes: when given, only responders whose URL starts with one of them are asked.
        max_age / retry_after / max_bytes: cache lifetime, pause after a failure, answer size cap.
    """

    def __init__(
        self,
        post_ocsp: PostOCSP,
        *,
        soft_fail: bool = False,
        soft_fail_unknown: bool = False,
        allowed_url_prefixes: Sequence[str] = (),
        max_age: timedelta = DEFAULT_MAX_AGE,
        retry_after: timedelta = DEFAULT_RETRY_AFTER,
        max_bytes: int = DEFAULT_MAX_OCSP_BYTES,
    ) -> None:
        self._post = post_ocsp
        self._soft_fail = soft_fail
        self._soft_fail_unknown = soft_fail_unknown
        self._prefixes = tuple(allowed_url_prefixes)
        self._max_age = max_age
        self._retry_after = retry_after
        self._max_bytes = max_bytes
        self._cache: dict[tuple[bytes, int], _Cached] = {}
        self._failed: dict[str, datetime] = {}
        self._lock = threading.Lock()

    def check(
        self, certificate: x509.Certificate, issuer: x509.Certificate, at: datetime
    ) -> RevocationStatus:
        """Revocation status of ``certificate`` (issued by ``issuer``) at time ``at``."""
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        answer = self._answer(certificate, issuer, at)
        if answer is None:
            return RevocationStatus.GOOD if self._soft_fail else RevocationStatus.UNKNOWN
        if answer.status is RevocationStatus.REVOKED:
            assert answer.revoked_at is not None
            return RevocationStatus.REVOKED if answer.revoked_at <= at else RevocationStatus.GOOD
        if answer.status is RevocationStatus.UNKNOWN and self._soft_fail_unknown:
            return RevocationStatus.GOOD
        return answer.status

    def _answer(
        self, certificate: x509.Certificate, issuer: x509.Certificate, at: datetime
    ) -> _Cached | None:
        key = (issuer.fingerprint(hashes.SHA256()), certificate.serial_number)
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None and at < cached.valid_until:
                return cached
        for url in ocsp_urls(certificate):
            if self._prefixes and not url.startswith(self._prefixes):
                continue
            with self._lock:
                failed_at = self._failed.get(url)
                if failed_at is not None and failed_at <= at < failed_at + self._retry_after:
                    continue
            answer = self._ask(url, certificate, issuer, at)
            with self._lock:
                if answer is None:
                    self._failed[url] = at
                    continue
                self._failed.pop(url, None)
                self._cache[key] = answer
            return answer
        return None

    def _ask(
        self, url: str, certificate: x509.Certificate, issuer: x509.Certificate, at: datetime
    ) -> _Cached | None:
        # SHA-1 CertID: the hash every responder supports (RFC 6960 §4.1.1; RFC 5019 §2.1.1).
        # An identifier, not a signature: SHA-1 here has no collision exposure.
        request = ocsp.OCSPRequestBuilder().add_certificate(certificate, issuer, hashes.SHA1()).build()  # noqa: S303
        try:
            data = self._post(url, request.public_bytes(serialization.Encoding.DER))
        except Exception:  # whatever the fetcher raises means "unavailable"
            return None
        if not isinstance(data, bytes | bytearray) or len(data) > self._max_bytes:
            return None
        try:
            response = ocsp.load_der_ocsp_response(bytes(data))
        except ValueError:
            return None
        return _judge(response, certificate, issuer, at, self._max_age)


def _judge(
    response: ocsp.OCSPResponse,
    certificate: x509.Certificate,
    issuer: x509.Certificate,
    at: datetime,
    max_age: timedelta,
) -> _Cached | None:
    """The verified status of a response, or None when it cannot be used."""
    if response.response_status is not ocsp.OCSPResponseStatus.SUCCESSFUL:
        return None  # e.g. UNAUTHORIZED: wrong chain or stage (oxalis#691)
    single = next(
        (
            r
            for r in response.responses
            if r.serial_number == certificate.serial_number and _same_issuer(r, issuer)
        ),
        None,
    )
    if single is None or not _signed_by_authorised(response, issuer, at):
        return None
    this_update = single.this_update_utc
    next_update = single.next_update_utc
    if this_update > at + CLOCK_SKEW or (next_update is not None and next_update <= at):
        return None
    valid_until = min(at + max_age, next_update) if next_update is not None else at + max_age
    if single.certificate_status is ocsp.OCSPCertStatus.GOOD:
        return _Cached(RevocationStatus.GOOD, None, valid_until)
    if single.certificate_status is ocsp.OCSPCertStatus.REVOKED:
        return _Cached(RevocationStatus.REVOKED, single.revocation_time_utc, valid_until)
    return _Cached(RevocationStatus.UNKNOWN, None, valid_until)


def _same_issuer(single: ocsp.OCSPSingleResponse, issuer: x509.Certificate) -> bool:
    algorithm = single.hash_algorithm
    name_hash = hashes.Hash(algorithm)
    name_hash.update(issuer.subject.public_bytes())
    key_hash = hashes.Hash(algorithm)
    key_hash.update(_subject_public_key(issuer))
    return single.issuer_name_hash == name_hash.finalize() and single.issuer_key_hash == key_hash.finalize()


def _subject_public_key(certificate: x509.Certificate) -> bytes:
    # The CertID key hash covers the BIT STRING value of subjectPublicKey (RFC 6960 §4.1.1).
    key = certificate.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
    if isinstance(key, ec.EllipticCurvePublicKey):
        return key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return b""


def _signed_by_authorised(response: ocsp.OCSPResponse, issuer: x509.Certificate, at: datetime) -> bool:
    """Signed by the issuer itself, or by a current responder certificate it issued with id-kp-OCSPSigning
    (RFC 6960 §4.2.2.2)."""
    if _verify(response, issuer):
        return True
    for responder in response.certificates:
        if responder.issuer != issuer.subject or not _issued_by(responder, issuer):
            continue
        if not responder.not_valid_before_utc <= at <= responder.not_valid_after_utc:
            continue
        try:
            usages = responder.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except x509.ExtensionNotFound:
            continue
        if ExtendedKeyUsageOID.OCSP_SIGNING in usages and _verify(response, responder):
            return True
    return False


def _verify(response: ocsp.OCSPResponse, signer: x509.Certificate) -> bool:
    key = signer.public_key()
    algorithm = response.signature_hash_algorithm
    if algorithm is None:
        return False
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(response.signature, response.tbs_response_bytes, padding.PKCS1v15(), algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(response.signature, response.tbs_response_bytes, ec.ECDSA(algorithm))
        else:
            return False
    except InvalidSignature:
        return False
    return True


def _issued_by(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        certificate.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


class CRLThenOCSP:
    """CRL first, OCSP when the CRL cannot say (peppol-as4.md §10.2 item 4: "CRL before OCSP").

    REVOKED or GOOD from the CRL checker is final; its UNKNOWN (no CRL to be had) is put to OCSP.
    """

    def __init__(self, crl: RevocationChecker, ocsp_checker: RevocationChecker) -> None:
        self._crl = crl
        self._ocsp = ocsp_checker

    def check(
        self, certificate: x509.Certificate, issuer: x509.Certificate, at: datetime
    ) -> RevocationStatus:
        status = self._crl.check(certificate, issuer, at)
        if status is not RevocationStatus.UNKNOWN:
            return status
        return self._ocsp.check(certificate, issuer, at)
