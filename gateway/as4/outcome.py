"""Send outcomes as data (phase4 ``EAS4UserMessageSendResult``): the worker branches on ``is_retryable``."""

from __future__ import annotations

from enum import StrEnum


class SendOutcome(StrEnum):
    """Result of one delivery attempt."""

    SUCCESS = "success"
    INVALID_PARAMETERS = "invalid-parameters"
    TRANSPORT_ERROR = "transport-error"
    TRANSPORT_ERROR_NO_RETRY = "transport-error-no-retry"
    NO_SIGNAL_MESSAGE_RECEIVED = "no-signal-message-received"
    AS4_ERROR_MESSAGE_RECEIVED = "as4-error-message-received"
    INVALID_SIGNAL_MESSAGE_RECEIVED = "invalid-signal-message-received"

    @property
    def is_success(self) -> bool:
        """True only for a verified receipt."""
        return self is SendOutcome.SUCCESS

    @property
    def is_retryable(self) -> bool:
        """Whether resending the *same bytes* later may help (AS4 1.0 §3.2: same MessageId, same digests).

        An ebMS Error's own ``retryable`` flag refines :attr:`AS4_ERROR_MESSAGE_RECEIVED`
        (see ReceiptVerdict).
        """
        return self in (SendOutcome.TRANSPORT_ERROR, SendOutcome.NO_SIGNAL_MESSAGE_RECEIVED)
