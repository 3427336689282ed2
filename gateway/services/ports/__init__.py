"""Ports the services depend on, one module per concern; adapters live outside ``gateway.services``.

* ``store``: the document store and its unit of work (transaction semantics and the lease protocol);
* ``documents``: repositories of outbound and inbound documents, AS4 messages and idempotency keys;
* ``paging``: listing queries and keyset pages;
* ``queue``: the delivery job queue;
* ``webhooks``: the webhook outbox and the webhook HTTP sender;
* ``transport``: the AS4 HTTP transport;
* ``discovery``: where a receiver's AS4 endpoint is (local directory now, SML/SMP later);
* ``retry``: attempt limits and retry times;
* ``validation``: the document validator of the receive recipe;
* ``expenses``: expenses with their audit trail, production units and supplier mappings;
* ``responses``: Invoice Responses (T111) the expense workflow asks for;
* ``answers``: received MLS and Invoice Responses held until the receipt of what they answer;
* ``clock``: time, ids and jitter.
"""

from gateway.services.ports.answers import PendingAnswer, PendingAnswerRepository
from gateway.services.ports.clock import Clock, IDFactory, RandomSource
from gateway.services.ports.discovery import (
    AS4_TRANSPORT_PROFILE,
    Endpoint,
    EndpointResolver,
    ImmediateResolver,
    RefreshableResolver,
)
from gateway.services.ports.documents import (
    AS4MessageRepository,
    IdempotencyRecord,
    IdempotencyRepository,
    InboundDocumentRepository,
    InstanceCheck,
    InstanceMessage,
    OutboundDocumentRepository,
)
from gateway.services.ports.expenses import ExpenseQuery, ExpenseRepository, UnitRepository
from gateway.services.ports.mail import Mailer, PDFRenderer
from gateway.services.ports.paging import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    InboundQuery,
    OutboundQuery,
    Page,
    PageCursor,
)
from gateway.services.ports.queue import DeliveryJob, DeliveryLease, DeliveryQueue, QueueCounts
from gateway.services.ports.reporting import ReportingRepository, SentFacts
from gateway.services.ports.responses import InvoiceResponder, InvoiceResponseRequest, NullInvoiceResponder
from gateway.services.ports.retry import RetryPolicy, RetrySchedule
from gateway.services.ports.store import DocumentStore, UnitOfWork
from gateway.services.ports.transport import AS4Transport, HTTPResponse
from gateway.services.ports.validation import DocumentValidator
from gateway.services.ports.webhooks import (
    OutboxCounts,
    OutboxEntry,
    WebhookLease,
    WebhookMessage,
    WebhookOutbox,
    WebhookSender,
)

__all__ = [
    "AS4_TRANSPORT_PROFILE",
    "DEFAULT_PAGE_SIZE",
    "MAX_PAGE_SIZE",
    "AS4MessageRepository",
    "AS4Transport",
    "Clock",
    "DeliveryJob",
    "DeliveryLease",
    "DeliveryQueue",
    "DocumentStore",
    "DocumentValidator",
    "Endpoint",
    "EndpointResolver",
    "ExpenseQuery",
    "ExpenseRepository",
    "HTTPResponse",
    "IDFactory",
    "IdempotencyRecord",
    "IdempotencyRepository",
    "ImmediateResolver",
    "InboundDocumentRepository",
    "InboundQuery",
    "InstanceCheck",
    "InstanceMessage",
    "InvoiceResponder",
    "InvoiceResponseRequest",
    "Mailer",
    "NullInvoiceResponder",
    "OutboundDocumentRepository",
    "OutboundQuery",
    "OutboxCounts",
    "OutboxEntry",
    "PDFRenderer",
    "Page",
    "PageCursor",
    "PendingAnswer",
    "PendingAnswerRepository",
    "QueueCounts",
    "RandomSource",
    "RefreshableResolver",
    "ReportingRepository",
    "RetryPolicy",
    "RetrySchedule",
    "SentFacts",
    "UnitOfWork",
    "UnitRepository",
    "WebhookLease",
    "WebhookMessage",
    "WebhookOutbox",
    "WebhookSender",
]
