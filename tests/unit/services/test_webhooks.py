"""Webhook signature (known vector, tampering, replay window) and the pure parts of the dispatch recipe."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import pytest

from gateway.api.webhook_schemas import OutboundStatusChanged
from gateway.errors import SignatureInvalid
from gateway.model import BIS_BILLING_PROCESS, BIS_INVOICE, ParticipantID
from gateway.model.message import (
    DeliveryEvent,
    DeliveryStatus,
    DocumentKind,
    OutboundDocument,
    TimelineEvent,
)
from gateway.services.ports import WebhookMessage
from gateway.services.webhook_signature import (
    SIGNATURE_HEADER,
    SignatureCheck,
    check_webhook_signature,
    sign_webhook,
    verify_webhook_signature,
)
from gateway.services.webhooks import (
    STATUS_CHANGED,
    WebhookOutcome,
    build_webhook_request,
    classify_status,
    encode_payload,
    status_change_webhook,
)

SECRET = b"whsec-test-0123456789abcdef"
OLD_SECRET = b"whsec-old-secret-00000000000"
BODY = b'{"data":{"status":"delivered"},"id":"evt-1"}'
T = 1772443800  # 2026-03-02T09:30:00Z
NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
# Computed independently: printf '%s' '1772443800.<BODY>' | openssl dgst -sha256 -hmac <secret>
VECTOR = "5b434c0aff4500b52845557759c77f353d4dadda60726d20e6345e67a1cd16f3"
VECTOR_OLD = "8aedc6a00b26fcd96ccc1c3618d5f91a1568de83b45d7cbaceae4acae1e948cf"


def check(body: bytes, header: str | None, *, now: datetime = NOW, secret: bytes = SECRET) -> SignatureCheck:
    return check_webhook_signature(body, header, secret=secret, now=now)


def test_signature_matches_the_known_vector() -> None:
    assert sign_webhook(BODY, secrets=SECRET, timestamp=T) == f"t={T},v1={VECTOR}"


def test_rotation_signs_with_every_secret_and_either_verifies() -> None:
    header = sign_webhook(BODY, secrets=(SECRET, OLD_SECRET), timestamp=T)
    assert header == f"t={T},v1={VECTOR},v1={VECTOR_OLD}"
    assert check(BODY, header) is SignatureCheck.VALID
    assert check(BODY, header, secret=OLD_SECRET) is SignatureCheck.VALID
    assert check(BODY, header, secret=b"some-other-secret-000000") is SignatureCheck.MISMATCH


def test_valid_signature_verifies_and_unknown_schemes_are_ignored() -> None:
    header = f"t={T},v0=whatever,v1={VECTOR}"
    assert check(BODY, header) is SignatureCheck.VALID
    verify_webhook_signature(BODY, header, secret=SECRET, now=NOW)  # does not raise


@pytest.mark.parametrize(
    "body",
    [
        BODY.replace(b"delivered", b"failed\x20\x20"),
        BODY + b" ",  # even insignificant JSON whitespace: the MAC covers the exact bytes
        BODY[:-1],
    ],
)
def test_tampered_body_is_a_mismatch(body: bytes) -> None:
    assert check(body, f"t={T},v1={VECTOR}") is SignatureCheck.MISMATCH


def test_altered_timestamp_is_a_mismatch_not_a_valid_fresh_request() -> None:
    # An attacker replaying an old request cannot refresh t: it is covered by the MAC.
    assert check(BODY, f"t={T + 60},v1={VECTOR}", now=NOW + timedelta(seconds=60)) is SignatureCheck.MISMATCH


def test_wrong_secret_is_a_mismatch() -> None:
    assert check(BODY, f"t={T},v1={VECTOR}", secret=b"whsec-test-0123456789abcdeg") is SignatureCheck.MISMATCH


@pytest.mark.parametrize(
    ("offset", "expected"),
    [
        (timedelta(minutes=5), SignatureCheck.VALID),
        (-timedelta(minutes=5), SignatureCheck.VALID),
        (timedelta(minutes=5, seconds=1), SignatureCheck.STALE),  # replayed later
        (-timedelta(minutes=5, seconds=1), SignatureCheck.STALE),  # clock skew or forged future time
        (timedelta(days=30), SignatureCheck.STALE),
    ],
)
def test_timestamp_tolerance(offset: timedelta, expected: SignatureCheck) -> None:
    assert check(BODY, f"t={T},v1={VECTOR}", now=NOW + offset) is expected


def test_custom_tolerance() -> None:
    header = f"t={T},v1={VECTOR}"
    later = NOW + timedelta(seconds=31)
    assert check_webhook_signature(
        BODY, header, secret=SECRET, now=later, tolerance=timedelta(seconds=30)
    ) is (SignatureCheck.STALE)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        f"v1={VECTOR}",  # no timestamp
        f"t={T}",  # no signature
        f"t=-{T},v1={VECTOR}",
        f"t={T}.5,v1={VECTOR}",
        f"t=١٢٣,v1={VECTOR}",  # non-ASCII digits
        f"t={T},t={T},v1={VECTOR}",
        f"t={T},v1={VECTOR.upper()}",
        f"t={T},v1={VECTOR[:-2]}",
        f"t={T},v1",
        "t=1," + "v1=" + "0" * 64 + "," * 5000,
    ],
)
def test_malformed_headers(header: str | None) -> None:
    assert check(BODY, header) is SignatureCheck.MALFORMED


def test_verify_raises_signature_invalid_naming_the_verdict() -> None:
    with pytest.raises(SignatureInvalid, match="stale"):
        verify_webhook_signature(BODY, f"t={T},v1={VECTOR}", secret=SECRET, now=NOW + timedelta(hours=1))
    with pytest.raises(SignatureInvalid, match="mismatch"):
        verify_webhook_signature(BODY + b"x", f"t={T},v1={VECTOR}", secret=SECRET, now=NOW)


def test_signing_refuses_empty_secrets_and_negative_time() -> None:
    with pytest.raises(ValueError, match="secret"):
        sign_webhook(BODY, secrets=b"", timestamp=T)
    with pytest.raises(ValueError, match="secret"):
        sign_webhook(BODY, secrets=(), timestamp=T)
    with pytest.raises(ValueError, match="negative"):
        sign_webhook(BODY, secrets=SECRET, timestamp=-1)


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, WebhookOutcome.DELIVERED),
        (202, WebhookOutcome.DELIVERED),
        (204, WebhookOutcome.DELIVERED),
        (299, WebhookOutcome.DELIVERED),
        (301, WebhookOutcome.RETRY),  # redirects are not followed
        (400, WebhookOutcome.RETRY),
        (401, WebhookOutcome.RETRY),  # receiver with the wrong secret: fixable, so retried
        (404, WebhookOutcome.RETRY),
        (410, WebhookOutcome.FAILED),
        (429, WebhookOutcome.RETRY),
        (500, WebhookOutcome.RETRY),
        (503, WebhookOutcome.RETRY),
    ],
)
def test_classify_status(status: int, outcome: WebhookOutcome) -> None:
    assert classify_status(status) is outcome


def document() -> OutboundDocument:
    return OutboundDocument(
        id="0b6f4a7e-61f4-4d57-9d6f-2f0e9c1d2a11",
        kind=DocumentKind.INVOICE,
        seller_id="PU-0042",
        document_number="INV-2026-0001",
        sender=ParticipantID("0208", "0739484052"),
        receiver=ParticipantID("0208", "0123456749"),
        document_type=BIS_INVOICE,
        process=BIS_BILLING_PROCESS,
        status=DeliveryStatus.SENDING,
        created_at=NOW,
        updated_at=NOW,
    )


def test_status_change_payload() -> None:
    change = TimelineEvent(
        document_id=document().id,
        at=NOW + timedelta(minutes=1),
        from_status=DeliveryStatus.SENDING,
        to_status=DeliveryStatus.DELIVERED,
        event=DeliveryEvent.RECEIPT_RECEIVED,
    )
    message = status_change_webhook(
        event_id="evt-1",
        document=document(),
        change=change,
        as4_message_id="abc@gateway.coop.example",
    )
    assert message.id == "evt-1"
    assert message.target == "default"
    assert message.created_at == change.at
    assert message.document_id == document().id
    assert message.payload == {
        "id": "evt-1",
        "type": STATUS_CHANGED,
        "created_at": "2026-03-02T09:31:00+00:00",
        "data": {
            "document_id": document().id,
            "document_number": "INV-2026-0001",
            "seller_id": "PU-0042",
            "kind": "invoice",
            "receiver": "0208:0123456749",
            "status": "delivered",
            "previous_status": "sending",
            "event": "receipt-received",
            "reason": None,
            "as4_message_id": "abc@gateway.coop.example",
        },
    }
    json.dumps(message.payload)  # storable as JSON
    # The OpenAPI ``webhooks`` description of the event matches what is sent.
    OutboundStatusChanged.model_validate(message.payload)


def test_request_is_signed_over_the_exact_body() -> None:
    message = WebhookMessage(id="evt-7", target="default", payload={"b": "é", "a": [1, 2]}, created_at=NOW)
    body, headers = build_webhook_request(message, attempt=3, secrets=SECRET, timestamp=T)
    assert body == encode_payload(message.payload) == '{"a":[1,2],"b":"é"}'.encode()
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Gateway-Event-Id"] == "evt-7"
    assert headers["X-Gateway-Delivery-Attempt"] == "3"
    mac = hmac.new(SECRET, f"{T}.".encode() + body, hashlib.sha256).hexdigest()
    assert headers[SIGNATURE_HEADER] == f"t={T},v1={mac}"
    assert check(body, headers[SIGNATURE_HEADER]) is SignatureCheck.VALID
