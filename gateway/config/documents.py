"""What the gateway does with documents: the official artefacts and validation, the business answers
(Invoice Response, MLS), the expense workflow's routing, and Peppol reporting."""

from __future__ import annotations

from pathlib import Path
from typing import Final, Literal, get_args

from pydantic import Field, field_validator

from gateway.config.group import SettingsGroup
from gateway.model.identifiers import ParticipantID
from gateway.model.responses import ResponseCode

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _default_mirror() -> Path | None:
    # In a checkout the official artefacts sit beside the project (../shared/artefacts), as in CI.
    candidate = PROJECT_ROOT.parent / "shared" / "artefacts"
    return candidate if candidate.is_dir() else None


class ArtefactSettings(SettingsGroup):
    """Where the official validation artefacts come from (schemas/ubl/manifest.json pins them)."""

    manifest: Path | None = None  # default: schemas/ubl/manifest.json of the checkout
    mirror: Path | None = Field(default_factory=_default_mirror)
    cache_dir: Path = Path.home() / ".cache" / "peppol-gateway" / "artefacts"
    download: bool = False  # fetch missing files from upstream (checksum-verified)


class ValidationSettings(SettingsGroup):
    rule_set: str | None = None  # None: the rule set in force on the day
    max_document_bytes: int = 20 * 1024 * 1024
    # fused: the official CEN/Peppol XSLTs of billing rule sets run as one generated single-pass
    # stylesheet (same findings, about a third of the time); official: as published.
    evaluation: Literal["fused", "official"] = "fused"
    # Saxon's (GraalVM) heap, set when the process makes its first Saxon processor (BENCHMARKS.md, *Memory of
    # `serve`*):
    # the young generation's cap in MiB (0: SaxonC's defaults, a young generation that grows past
    # 100 MiB before collecting) and the free heap kept mapped after a collection. 32, not 16: GraalVM's
    # adaptive policy starts the old generation's free room at the initial eden (3/4 of the cap), and
    # with 16 a 5,000-line invoice's tree overflowed it into a full collection (*Memory, ninth pass*).
    # The free heap kept is as large as the young generation: with less than the eden (24 MiB of 32), every
    # young collection handed the rest of the freed eden back to the system and the next documents faulted
    # it in again, page by page (≈ 0.1-0.3 ms of system time per official example, *Validation, ninth pass*).
    # And no more than one eden (24, not 32): with 32 the policy kept 26-27 MiB, the surplus resident beside
    # the eden a large document's transform refills (≈ 1.5 MiB of a 5,000-line invoice's peak, *Memory,
    # sixteenth pass*).
    saxon_young_generation_mib: int = Field(default=32, ge=0, le=4096)
    saxon_max_free_heap_mib: int = Field(default=24, ge=0, le=4096)
    # Further options of Saxon's isolate, after those two: GraalVM's collection logs only (on stderr, e.g.
    # ["-XX:+PrintGC"]; saxon_heap.DIAGNOSTIC_OPTIONS). Others are refused here: GraalVM ends the whole
    # process on an option it does not know, and some it knows end or hang it. Ignored when the young
    # generation is 0.
    saxon_isolate_options: list[str] = Field(default_factory=list)
    # Documents from this size up hand the C heap's free pages (their dropped lxml tree) back to the
    # system before Saxon parses them (glibc malloc_trim; Saxon's heap cannot reuse them). 0: never.
    malloc_trim_above_bytes: int = Field(default=1024 * 1024, ge=0)
    # A large document found valid by the streamed XSD check reaches Saxon without the whitespace between
    # its elements (validation.blank_text: the same findings; 5,000 lines: ≈ 6 MiB less peak, *Memory,
    # thirteenth pass*). false: as received.
    strip_blank_text: bool = True
    # A fused layer stopped by an XPath error compiles the official stylesheet to report the same error
    # (≈ 0.35 s CPU for CEN, Saxon's lock held): at most this many a minute; beyond, its own error.
    official_error_compiles_per_minute: int = Field(default=6, ge=0, le=600)

    @field_validator("saxon_isolate_options")
    @classmethod
    def _isolate_options(cls, value: list[str]) -> list[str]:
        if value:  # imported only then: the validation package loads saxonche
            from gateway.validation.saxon_heap import check_isolate_options

            check_isolate_options(value)
        return value


def _default_response_statuses() -> list[ResponseCode]:
    return [
        ResponseCode.ACKNOWLEDGED,
        ResponseCode.ACCEPTED,
        ResponseCode.REJECTED,
        ResponseCode.UNDER_QUERY,
        ResponseCode.PAID,
    ]


class ResponseSettings(SettingsGroup):
    """Business-level answers: Invoice Responses (T111) to suppliers and Message Level Status (MLS)."""

    # Which T111 statuses the expense workflow's transitions send. AB (on by default, bis-billing.md §9:
    # "received and routed to an activity", the first response within 3 working days) goes without anyone
    # acting when a received document is routed to a unit, or when support assigns it from triage; leave it
    # out to send none. IP and CA are optional and off (the workflow has no step for them).
    invoice_response_statuses: list[ResponseCode] = Field(default_factory=_default_response_statuses)
    buyer_name: str | None = None  # T111 SenderParty name; default: the buyer name (BT-44) of the invoice
    mls: bool = True  # send MLS for what we receive and ask for MLS (SBDH MLS_TO) on what we send
    mls_type: Literal["FAILURE_ONLY", "ALWAYS_SEND"] = "ALWAYS_SEND"  # the MLS_TYPE we ask for
    # The MLS and the AB Invoice Response are queued while a document is received, before our receipt
    # reaches the sending AP: their first attempt waits this long. A courtesy to sending APs that drop an
    # answer arriving before they recorded our receipt; this gateway holds such answers and applies them
    # with the receipt (services/received_answers.py), so 0 is safe between gateways like this one.
    answer_delay_seconds: float = Field(default=2.0, ge=0, le=3600)


RoutingRuleName = Literal[
    "buyer-reference",
    "order-reference",
    "accounting-reference",
    "line-order-reference",
    "note",
    "supplier-mapping",
]
ROUTING_RULE_NAMES: Final[tuple[RoutingRuleName, ...]] = get_args(RoutingRuleName)


class ExpenseSettings(SettingsGroup):
    """The expense workflow of received invoices (routing to production units, approval)."""

    # The routing rules in priority order; leave one out to disable it (gateway.services.routing).
    routing_rules: list[RoutingRuleName] = Field(default_factory=lambda: list(ROUTING_RULE_NAMES))
    # How long a supplier -> unit mapping remembered at triage routes the supplier's documents.
    supplier_mapping_days: int = Field(default=365, ge=1)


class RenderSettings(SettingsGroup):
    """Printing documents as PDF in ``gateway serve`` (``GET …/render?format=pdf``; WeasyPrint).

    A print holds a thread and its memory for its whole length: ≈ 9 s and 270 MiB for a 1,000-line invoice,
    and a page under the size limit could take over a minute (a line name of 50,000 combining accents:
    75 s on the 2-core test machine, until runs of marks were cut for display: ``gateway.render.mark_runs``).
    At most ``max_concurrent_pdfs`` print at once in one process; a request finding them all busy waits up
    to ``pdf_wait_seconds`` for one (as a coroutine: no thread, no memory), then gets 503 ``render-busy``
    with Retry-After. Two: a second person's PDF need not wait for
    the first, and two large prints stay well inside a 2 GB container beside the rest of ``serve``.
    """

    max_concurrent_pdfs: int = Field(default=2, ge=1, le=64)
    pdf_wait_seconds: float = Field(default=10.0, ge=0, le=600)


class ReportingSettings(SettingsGroup):
    """Peppol reporting (peppol-as4.md §11): monthly TSR and EUSR to OpenPeppol."""

    enabled: bool = True  # the worker creates and sends the reports of the previous month on days 2..15
    # The reporting participant. OpenPeppol's is only ever sent to in the production stage; another one
    # (a test receiver) is sent to in any stage.
    receiver: str = "9925:be0848934496"

    @field_validator("receiver")
    @classmethod
    def _a_participant(cls, value: str) -> str:
        ParticipantID.parse(value)  # InvalidIdentifier is a ValueError: refused at start-up
        return value
