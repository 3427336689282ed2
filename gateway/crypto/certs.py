"""Trust store and Peppol AP certificate path validation at an explicit time, with pluggable revocation.

cryptography's ``PolicyBuilder`` applies the Web-PKI profile, which rejects the *critical* extendedKeyUsage
that Peppol AP certificates carry (peppol-as4.md §10.2), so the path leaf -> AP CA -> root is checked by hand.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol, TypeVar

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from gateway.crypto.keys import load_certificates
from gateway.errors import CertificateRejected

_Ext = TypeVar("_Ext", bound=x509.ExtensionType)

#: What cryptography raises from the lazily parsed fields of a hostile certificate (extensions included:
#: a repeated extension raises ``DuplicateExtension``, which is not a ValueError).
_UNPARSABLE = (ValueError, KeyError, UnsupportedAlgorithm, x509.DuplicateExtension)

#: Maximum number of intermediates between a leaf and an anchor (Peppol: exactly one, the AP CA).
MAX_PATH_DEPTH = 4


class CertRejection(StrEnum):
    """Why a certificate was rejected; values are stable strings for logs and stores."""

    EXPIRED = "expired"
    NOT_YET_VALID = "not-yet-valid"
    UNTRUSTED = "untrusted"
    BAD_SIGNATURE = "bad-signature"
    NOT_A_CA = "issuer-not-a-ca"
    IS_A_CA = "leaf-is-a-ca"
    KEY_USAGE = "key-usage"
    REVOKED = "revoked"
    REVOCATION_UNKNOWN = "revocation-unknown"
    NO_COMMON_NAME = "no-common-name"
    MALFORMED = "malformed"
    MISSING_EXTENSION = "missing-extension"
    AMBIGUOUS_COMMON_NAME = "ambiguous-common-name"


class RevocationStatus(StrEnum):
    """Result of a revocation check."""

    GOOD = "good"
    REVOKED = "revoked"
    UNKNOWN = "unknown"


class RevocationChecker(Protocol):
    """Port for CRL / OCSP checking (peppol-as4.md §10.2: CRL before OCSP, hard fail, cached).

    Implementations do I/O and live in ``transport/``; the core only calls this protocol.
    """

    def check(
        self, certificate: x509.Certificate, issuer: x509.Certificate, at: datetime
    ) -> RevocationStatus:
        """Return the revocation status of ``certificate`` issued by ``issuer`` at time ``at``."""
        ...


class NoRevocationCheck:
    """The offline default: every certificate counts as not revoked."""

    def check(
        self, certificate: x509.Certificate, issuer: x509.Certificate, at: datetime
    ) -> RevocationStatus:
        """Always :attr:`RevocationStatus.GOOD`."""
        return RevocationStatus.GOOD


@dataclass(frozen=True, slots=True)
class TrustStore:
    """Anchors (self-signed roots) and intermediates (AP CAs) for AP certificate paths.

    Attributes:
        anchors: self-signed CA certificates that end a path.
        intermediates: CA certificates a path may pass through (e.g. ``PEPPOL ACCESS POINT TEST CA - G3``).
    """

    anchors: tuple[x509.Certificate, ...]
    intermediates: tuple[x509.Certificate, ...] = ()
    leaf_issuers: tuple[x509.Name, ...] = ()
    _hash: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Hashed once: the memory of verdicts (``CertificateVerdicts``) keys on the store, twice per
        # lookup, and cryptography hashes a certificate anew each time (≈ 56 k instructions).
        object.__setattr__(self, "_hash", hash((self.anchors, self.intermediates, self.leaf_issuers)))

    def __hash__(self) -> int:
        return self._hash

    def pinned(self, *issuers: x509.Certificate) -> TrustStore:
        """Only accept leaves issued directly by one of ``issuers`` (e.g. the AP CA of the stage).

        The Peppol trust files also hold the SMP CA; pinning keeps an SMP certificate from passing as an AP
        (peppol-as4.md §10.2 item 2: "issuer pinned to the stage's CA").
        """
        return TrustStore(self.anchors, self.intermediates, tuple(c.subject for c in issuers))

    def pinned_to_access_point_cas(self) -> TrustStore:
        """Pin to every CA whose CN names an access point CA (``PEPPOL ACCESS POINT [TEST ]CA - G3``)."""
        cas = [
            c
            for c in (*self.anchors, *self.intermediates)
            if "ACCESS POINT" in (common_name(c) or "").upper()
        ]
        return self.pinned(*cas)

    def pinned_to_smp_cas(self) -> TrustStore:
        """Pin to every CA whose CN names an SMP CA (``PEPPOL SERVICE METADATA PUBLISHER [TEST ]CA - G3``).

        An SMP signature must come from the SMP CA of the stage, never from an AP certificate
        (peppol-as4.md §9.3, "SMP signature").
        """
        cas = [
            c
            for c in (*self.anchors, *self.intermediates)
            if "SERVICE METADATA PUBLISHER" in (common_name(c) or "").upper()
        ]
        return self.pinned(*cas)

    @classmethod
    def from_certificates(cls, certs: Iterable[x509.Certificate]) -> TrustStore:
        """Split certificates into anchors (self-signed) and intermediates."""
        anchors: list[x509.Certificate] = []
        inter: list[x509.Certificate] = []
        for cert in certs:
            (anchors if cert.issuer == cert.subject else inter).append(cert)
        return cls(tuple(anchors), tuple(inter))

    @classmethod
    def from_pem(cls, *blobs: bytes) -> TrustStore:
        """Build a trust store from PEM bundles (e.g. ``root.pem`` + ``apca.pem``)."""
        certs: list[x509.Certificate] = []
        for blob in blobs:
            certs.extend(load_certificates(blob))
        return cls.from_certificates(certs)


def common_name(cert: x509.Certificate) -> str | None:
    """The subject CN (the Peppol Seat ID for AP certificates), or None."""
    attrs = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not attrs:
        return None
    value = attrs[0].value
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


def _check_time(cert: x509.Certificate, at: datetime) -> None:
    if at < cert.not_valid_before_utc:
        raise CertificateRejected(
            CertRejection.NOT_YET_VALID, f"{cert.subject.rfc4514_string()} not yet valid"
        )
    if at > cert.not_valid_after_utc:
        raise CertificateRejected(CertRejection.EXPIRED, f"{cert.subject.rfc4514_string()} expired")


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        bc = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return False
    if not bc.ca:
        return False
    try:
        ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return True
    return ku.key_cert_sign


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    if cert.issuer != issuer.subject:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def _extension(cert: x509.Certificate, kind: type[_Ext]) -> _Ext:
    try:
        return cert.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound as exc:
        raise CertificateRejected(
            CertRejection.MISSING_EXTENSION, f"AP certificate lacks the {kind.__name__} extension"
        ) from exc


def _check_leaf(cert: x509.Certificate) -> None:
    # peppol-as4.md §10.1-§10.2 (and every real G3 AP certificate, e.g. the dump-raw.as4out signer): critical
    # basicConstraints CA:FALSE, keyUsage with digitalSignature, extendedKeyUsage clientAuth. Each must be
    # PRESENT: an absent extension would mean "any use" (RFC 5280 §4.2.1.3/§4.2.1.12), which no AP has.
    if _extension(cert, x509.BasicConstraints).ca:
        raise CertificateRejected(CertRejection.IS_A_CA, "an AP certificate must not be a CA")
    if not _extension(cert, x509.KeyUsage).digital_signature:
        raise CertificateRejected(CertRejection.KEY_USAGE, "AP certificate lacks digitalSignature")
    # anyExtendedKeyUsage alone does not do: the AP CA issues clientAuth, nothing else passes as an AP.
    if ExtendedKeyUsageOID.CLIENT_AUTH not in _extension(cert, x509.ExtendedKeyUsage):
        raise CertificateRejected(CertRejection.KEY_USAGE, "AP certificate EKU lacks clientAuth")
    cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not cns:
        raise CertificateRejected(CertRejection.NO_COMMON_NAME, "AP certificate has no CN (Seat ID)")
    if len(cns) > 1:
        # The CN is the Seat ID compared with eb:From; two CNs would let the sender pick the one compared.
        raise CertificateRejected(CertRejection.AMBIGUOUS_COMMON_NAME, "AP certificate has more than one CN")


def _check_smp_leaf(cert: x509.Certificate) -> None:
    # An SMP signing certificate (G2: CN=<SMP id>, OU=PEPPOL PRODUCTION SMP) signs as an end entity:
    # CA:FALSE and, where keyUsage is present, digitalSignature. The EKU varies by generation: none required.
    try:
        if cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca:
            raise CertificateRejected(CertRejection.IS_A_CA, "an SMP signing certificate must not be a CA")
    except x509.ExtensionNotFound:
        pass
    try:
        if not cert.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature:
            raise CertificateRejected(CertRejection.KEY_USAGE, "SMP certificate lacks digitalSignature")
    except x509.ExtensionNotFound:
        pass


def validate_smp_certificate(
    cert: x509.Certificate,
    trust: TrustStore,
    *,
    at: datetime,
    extra_intermediates: Sequence[x509.Certificate] = (),
    revocation: RevocationChecker | None = None,
) -> tuple[x509.Certificate, ...]:
    """Validate the certificate that signed SMP service metadata, at time ``at`` (peppol-as4.md §9.3).

    Args:
        cert: the signing certificate taken from the signature's ``X509Data``.
        trust: the SMP trust of the stage, normally :meth:`TrustStore.pinned_to_smp_cas`.
        at: the verification time.
        extra_intermediates: other certificates of the ``X509Data`` (never anchors).
        revocation: CRL/OCSP checker; None = offline.

    Returns:
        The path from the leaf to the anchor.

    Raises:
        CertificateRejected: with ``reason`` a :class:`CertRejection`.
    """
    try:
        return _validate(cert, trust, at, extra_intermediates, revocation, _check_smp_leaf)
    except _UNPARSABLE as exc:
        raise CertificateRejected(CertRejection.MALFORMED, "certificate cannot be parsed") from exc


def validate_ap_certificate(
    cert: x509.Certificate,
    trust: TrustStore,
    *,
    at: datetime,
    extra_intermediates: Sequence[x509.Certificate] = (),
    revocation: RevocationChecker | None = None,
) -> tuple[x509.Certificate, ...]:
    """Validate an AP certificate path at time ``at``.

    Args:
        cert: the leaf (BST certificate of a message or receipt, or an SMP endpoint certificate).
        trust: the configured anchors and AP CAs of the stage (TEST or PRODUCTION).
        at: the verification time (timezone-aware); passed in so tests are deterministic.
        extra_intermediates: untrusted helpers for path building (never anchors).
        revocation: CRL/OCSP checker; None = :class:`NoRevocationCheck` (offline).

    Returns:
        The path from the leaf to the anchor.

    Raises:
        CertificateRejected: with ``reason`` a :class:`CertRejection`.
    """
    try:
        return _validate(cert, trust, at, extra_intermediates, revocation)
    except _UNPARSABLE as exc:
        raise CertificateRejected(CertRejection.MALFORMED, "certificate cannot be parsed") from exc


def _validate(
    cert: x509.Certificate,
    trust: TrustStore,
    at: datetime,
    extra_intermediates: Sequence[x509.Certificate],
    revocation: RevocationChecker | None,
    check_leaf: Callable[[x509.Certificate], None] = _check_leaf,
) -> tuple[x509.Certificate, ...]:
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    checker: RevocationChecker = revocation if revocation is not None else NoRevocationCheck()
    check_leaf(cert)
    if trust.leaf_issuers and cert.issuer not in trust.leaf_issuers:
        raise CertificateRejected(CertRejection.UNTRUSTED, "leaf not issued by a pinned CA")
    _check_time(cert, at)
    path = [cert]
    candidates = [*trust.intermediates, *extra_intermediates]
    current = cert
    for _ in range(MAX_PATH_DEPTH + 1):
        anchor = next((a for a in trust.anchors if _issued_by(current, a)), None)
        if anchor is not None:
            _check_time(anchor, at)
            path.append(anchor)
            break
        issuer = next((c for c in candidates if c is not current and _issued_by(current, c)), None)
        if issuer is None:
            raise CertificateRejected(
                CertRejection.UNTRUSTED, f"no trusted issuer for {current.subject.rfc4514_string()}"
            )
        if not _is_ca(issuer):
            raise CertificateRejected(
                CertRejection.NOT_A_CA, f"{issuer.subject.rfc4514_string()} is not a CA"
            )
        _check_time(issuer, at)
        path.append(issuer)
        current = issuer
    else:
        raise CertificateRejected(CertRejection.UNTRUSTED, "certificate path too long")
    check_revocation(path, checker, at)
    return tuple(path)


def check_revocation(path: Sequence[x509.Certificate], checker: RevocationChecker, at: datetime) -> None:
    """Ask ``checker`` about each certificate of a validated ``path`` (leaf first) and its issuer.

    Raises:
        CertificateRejected: REVOKED, or REVOCATION_UNKNOWN (hard fail).
    """
    for child, parent in itertools.pairwise(path):
        status = checker.check(child, parent, at)
        if status is RevocationStatus.REVOKED:
            raise CertificateRejected(CertRejection.REVOKED, f"{child.subject.rfc4514_string()} is revoked")
        if status is not RevocationStatus.GOOD:
            # Hard fail (peppol-as4.md §10.2 item 4); soft-fail would be an explicit opt-in of the checker.
            raise CertificateRejected(CertRejection.REVOCATION_UNKNOWN, "revocation status unknown")
