"""The ebMS 3.0 / AS4 error catalogue as data (ebMS3 Core §6.7, AS4 1.0 §3; peppol-as4.md §7.3)."""

from __future__ import annotations

from enum import Enum, StrEnum
from typing import Final

#: ErrorDetail Peppol uses with EBMS:0004 for a receiver the endpoint does not serve (Peppol AS4 2.2, phase4).
PEPPOL_NOT_SERVICED: Final = "PEPPOL:NOT_SERVICED"


class Severity(StrEnum):
    """eb:Error/@severity."""

    FAILURE = "failure"
    WARNING = "warning"


class Category(StrEnum):
    """eb:Error/@category."""

    CONTENT = "Content"
    COMMUNICATION = "Communication"
    UNPACKAGING = "Unpackaging"
    PROCESSING = "Processing"


class EbmsError(Enum):
    """ebMS error codes. Each member carries code, short description, severity, category, origin, retryable.

    ``retryable`` says whether the *sender* may usefully resend the same message later (communication-type
    failures); security and content errors are permanent.
    """

    VALUE_NOT_RECOGNIZED = (
        "EBMS:0001",
        "ValueNotRecognized",
        Severity.FAILURE,
        Category.CONTENT,
        "ebMS",
        False,
    )
    FEATURE_NOT_SUPPORTED = (
        "EBMS:0002",
        "FeatureNotSupported",
        Severity.WARNING,
        Category.CONTENT,
        "ebMS",
        False,
    )
    VALUE_INCONSISTENT = ("EBMS:0003", "ValueInconsistent", Severity.FAILURE, Category.CONTENT, "ebMS", False)
    OTHER = ("EBMS:0004", "Other", Severity.FAILURE, Category.CONTENT, "ebMS", False)
    CONNECTION_FAILURE = (
        "EBMS:0005",
        "ConnectionFailure",
        Severity.FAILURE,
        Category.COMMUNICATION,
        "ebMS",
        True,
    )
    EMPTY_MPC = (
        "EBMS:0006",
        "EmptyMessagePartitionChannel",
        Severity.WARNING,
        Category.COMMUNICATION,
        "ebMS",
        False,
    )
    MIME_INCONSISTENCY = (
        "EBMS:0007",
        "MimeInconsistency",
        Severity.FAILURE,
        Category.UNPACKAGING,
        "ebMS",
        False,
    )
    FEATURE_NOT_SUPPORTED_INCONSISTENCY = (
        "EBMS:0008",
        "FeatureNotSupported",
        Severity.FAILURE,
        Category.UNPACKAGING,
        "ebMS",
        False,
    )
    INVALID_HEADER = ("EBMS:0009", "InvalidHeader", Severity.FAILURE, Category.UNPACKAGING, "ebMS", False)
    PROCESSING_MODE_MISMATCH = (
        "EBMS:0010",
        "ProcessingModeMismatch",
        Severity.FAILURE,
        Category.PROCESSING,
        "ebMS",
        False,
    )
    EXTERNAL_PAYLOAD_ERROR = (
        "EBMS:0011",
        "ExternalPayloadError",
        Severity.FAILURE,
        Category.CONTENT,
        "ebMS",
        False,
    )
    FAILED_AUTHENTICATION = (
        "EBMS:0101",
        "FailedAuthentication",
        Severity.FAILURE,
        Category.PROCESSING,
        "security",
        False,
    )
    FAILED_DECRYPTION = (
        "EBMS:0102",
        "FailedDecryption",
        Severity.FAILURE,
        Category.PROCESSING,
        "security",
        False,
    )
    POLICY_NONCOMPLIANCE = (
        "EBMS:0103",
        "PolicyNoncompliance",
        Severity.FAILURE,
        Category.PROCESSING,
        "security",
        False,
    )
    DYSFUNCTIONAL_RELIABILITY = (
        "EBMS:0201",
        "DysfunctionalReliability",
        Severity.FAILURE,
        Category.PROCESSING,
        "reliability",
        True,
    )
    DELIVERY_FAILURE = (
        "EBMS:0202",
        "DeliveryFailure",
        Severity.FAILURE,
        Category.COMMUNICATION,
        "reliability",
        True,
    )
    MISSING_RECEIPT = ("EBMS:0301", "MissingReceipt", Severity.FAILURE, Category.COMMUNICATION, "ebMS", True)
    INVALID_RECEIPT = ("EBMS:0302", "InvalidReceipt", Severity.FAILURE, Category.COMMUNICATION, "ebMS", False)
    DECOMPRESSION_FAILURE = (
        "EBMS:0303",
        "DecompressionFailure",
        Severity.FAILURE,
        Category.COMMUNICATION,
        "ebMS",
        False,
    )
    DUPLICATE_DETECTED = ("EBMS:4001", "DuplicateDetected", Severity.FAILURE, Category.CONTENT, "ebMS", False)

    @property
    def code(self) -> str:
        """``EBMS:nnnn``."""
        return str(self.value[0])

    @property
    def short_description(self) -> str:
        """eb:Error/@shortDescription."""
        return str(self.value[1])

    @property
    def severity(self) -> Severity:
        """Recommended severity (ebMS3 §6.7)."""
        return Severity(self.value[2])

    @property
    def category(self) -> Category:
        """eb:Error/@category."""
        return Category(self.value[3])

    @property
    def origin(self) -> str:
        """eb:Error/@origin (``ebMS``, ``security``, ``reliability``)."""
        return str(self.value[4])

    @property
    def retryable(self) -> bool:
        """Whether the sender may usefully resend the same message later."""
        return bool(self.value[5])

    @classmethod
    def from_code(cls, code: str) -> EbmsError | None:
        """The member for ``EBMS:nnnn`` (surrounding blanks ignored), or None when unknown."""
        code = code.strip()
        return next((m for m in cls if m.code == code), None)

    def __str__(self) -> str:
        return self.code
