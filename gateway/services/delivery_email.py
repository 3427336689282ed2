"""The e-mail fallback steps of a delivery attempt (buyers not on Peppol): the stored evidence record of the
fallback e-mail, its SEND_STARTED timeline detail, and the attempt outcome of an SMTP answer."""

from __future__ import annotations

from datetime import datetime

from gateway.errors import DiscoveryError, MailError
from gateway.model.message import AS4MessageRecord, Direction, JSONObject, RawHTTPMessage
from gateway.services.delivery_outcome import AttemptOutcome, AttemptResult
from gateway.services.email_fallback import EMAIL_CONTENT_TYPE, ComposedEmail


def email_record(composed: ComposedEmail, *, document_id: str, at: datetime) -> AS4MessageRecord:
    """The exact MIME as the evidence, stored (like an AS4 message) before anything is sent."""
    return AS4MessageRecord(
        message_id=composed.message_id,
        direction=Direction.OUT,
        request=RawHTTPMessage((("Content-Type", EMAIL_CONTENT_TYPE),), composed.mime),
        created_at=at,
        document_id=document_id,
    )


def discovery_detail(exc: DiscoveryError) -> str:
    """The discovery outcome that sent a document to the e-mail fallback, e.g. ``not-registered: …``."""
    return f"{getattr(exc.outcome, 'value', None) or type(exc).__name__}: {exc}"


def email_started_detail(attempt: int, composed: ComposedEmail, why: str) -> JSONObject:
    """The SEND_STARTED detail of a first e-mail: the recipient and why Peppol was not used (``discovery``:
    the lookup's outcome, or that a buyer outside Peppol is not looked up)."""
    return {
        "attempt": attempt,
        "channel": "email",
        "message_id": composed.message_id,
        "to": composed.recipient,
        "language": composed.language,
        "discovery": why,
    }


def smtp_outcome(recipients: list[str], reply: str | None, error: MailError | None) -> AttemptOutcome:
    """250 -> emailed, 4xx -> retry, 5xx -> give up (``error`` is the refusal, else ``reply`` the answer)."""
    if error is not None:
        kind = "temporary" if error.retryable else "permanent"
        result = AttemptResult.RETRY if error.retryable else AttemptResult.GIVE_UP
        detail: JSONObject = {"channel": "email", "smtp_reply": error.reason}
        return AttemptOutcome(result, f"smtp-{kind}-failure: {error.reason}", detail=detail)
    detail = {"channel": "email", "smtp_reply": reply, "to": recipients}
    return AttemptOutcome(AttemptResult.EMAILED, f"e-mailed to {', '.join(recipients)}", detail=detail)
