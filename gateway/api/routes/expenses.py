"""Expenses: the drafts of received supplier invoices and credit notes, their approval workflow, the exact
UBL and the embedded attachments. Members see and act only on their production units' expenses."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from gateway.api.auth import Principal
from gateway.api.cursor import decode_cursor, encode_cursor
from gateway.api.deps import ServicesDep, bounded_body, require_roles, small_body
from gateway.api.errors import problem_responses
from gateway.api.expense_schemas import (
    AnswerIn,
    AssignIn,
    ExpenseBoard,
    ExpenseIdPath,
    ExpenseOrder,
    ExpensePage,
    ExpenseResponse,
    ExpenseSummary,
    MarkPaidIn,
    NoFieldsIn,
    QueryIn,
    RejectIn,
    actor_of,
    evidence_out,
    expense_response,
    expense_summary,
)
from gateway.api.file_responses import ATTACHMENT_NAME, content_disposition_header, file_response
from gateway.api.idempotency import idempotency_key_header, one_idempotency_key
from gateway.api.outbound_schemas import EvidenceMessage
from gateway.api.routes.rendering import attachment_response
from gateway.api.schemas import RFC3339DateTime, json_request_body, parse_json_body
from gateway.config import Role
from gateway.model import ParticipantID
from gateway.model.document_number import MAX_DOCUMENT_NUMBER, NumberSearch
from gateway.model.expense import ExpenseAction, ExpenseStatus
from gateway.model.message import InboundStatus
from gateway.model.units import unit_key
from gateway.render.file_names import download_headers
from gateway.services.document_files import expense_file
from gateway.services.expense_access import check_action
from gateway.services.expense_queries import (
    expense_attachment,
    expense_counts,
    expense_evidence,
    get_expense,
    list_expenses,
)
from gateway.services.expenses import ActionInput
from gateway.services.inbound_queries import received_counts
from gateway.services.ports import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, ExpenseQuery

router = APIRouter(prefix="/v1/expenses", tags=["expenses"], responses=problem_responses(401, 422, 503))

ExpenseUserDep = Annotated[Principal, Depends(require_roles(Role.MEMBER, Role.SUPPORT))]


def _taking(action: ExpenseAction) -> Callable[..., Awaitable[Principal]]:
    """The dependency admitting a request taking ``action``: as ``ExpenseUserDep``, and refused (403
    expense-action-forbidden, ``check_action``) when the role may not take this action, in the same
    dependency, the first of the route: before the expense id, the body or the Idempotency-Key is read or
    validated, so a role that may not act learns nothing of how they are checked, key or not."""

    def may_take(principal: Principal) -> None:
        check_action(actor_of(principal), action)

    return require_roles(Role.MEMBER, Role.SUPPORT, then=may_take)


AssignerDep = Annotated[Principal, Depends(_taking(ExpenseAction.ASSIGN))]
ApproverDep = Annotated[Principal, Depends(_taking(ExpenseAction.APPROVE))]
RejecterDep = Annotated[Principal, Depends(_taking(ExpenseAction.REJECT))]
QuerierDep = Annotated[Principal, Depends(_taking(ExpenseAction.QUERY))]
AnswererDep = Annotated[Principal, Depends(_taking(ExpenseAction.ANSWER))]
PayerDep = Annotated[Principal, Depends(_taking(ExpenseAction.MARK_PAID))]
SettlerDep = Annotated[Principal, Depends(_taking(ExpenseAction.SETTLE))]
#: The raw JSON body of an action, read (bounded) only after the caller is authenticated and its role may take
#: the action: declare it after the action's principal (``_taking``; FastAPI resolves dependencies in order)
#: and parse it with ``parse_json_body``.
BodyDep = Annotated[bytes, Depends(bounded_body())]
#: The body of an action without parameters: at most ``SMALL_BODY_BYTES``, read without a body slot (those
#: are for the large bodies: an approval must not wait behind uploads); declared after the principal too.
NoFieldsBodyDep = Annotated[bytes, Depends(small_body())]
#: The body of mark-paid: small too (no body slot), with room for the explanation of a partial payment
#: (``MAX_PAYMENT_NOTE`` characters of up to 4 UTF-8 bytes, escaped quotes, the amount).
MARK_PAID_BODY_BYTES = 4096
MarkPaidBodyDep = Annotated[bytes, Depends(small_body(MARK_PAID_BODY_BYTES))]

#: The Idempotency-Key of an action (``gateway.api.idempotency``), scoped to the client and the expense.
ActionKey = Annotated[
    str | None,
    idempotency_key_header(
        "Makes a retry of this action with the same body answer the current state, even after other "
        "actions or a change of the unit assigned to (as long as your role may take the action and you "
        "still see the expense): nothing recorded or sent again, also when the first request changed "
        "nothing (a repeat). Another action or body with the same key: 409. Kept in the action's audit "
        "entry, or, for a request that changed nothing, for the idempotency retention (30 days by default)"
    ),
]

_READ_ERRORS = problem_responses(
    401, 403, 404, s403="Role without access to expenses", s404="No such expense (for you)"
)
_ACT_ERRORS = problem_responses(
    401,
    403,
    404,
    409,
    413,
    422,
    s403="Your role may not take this action (answered first, whatever the expense, body or key)",
    s404="No such expense (for you)",
    s409="The expense's status does not allow this action, or the Idempotency-Key came with another action "
    "or body on this expense (idempotency-conflict)",
    s422="Malformed body or a field the action does not take (``errors`` names each field), missing "
    "reason or question, unknown reason code or unit, a partial payment without reason or with an amount "
    "not between 0 and the amount due, two different Idempotency-Key headers",
)


@router.get(
    "",
    response_model=ExpensePage,
    responses=problem_responses(400, 403, s400="Bad cursor", s403="Role refused"),
)
def list_all(
    services: ServicesDep,
    who: ExpenseUserDep,
    unit: Annotated[str | None, Query(description="Only this production unit code")] = None,
    status: Annotated[ExpenseStatus | None, Query(description="Only this workflow status")] = None,
    supplier: Annotated[str | None, Query(description="Only this supplier participant id")] = None,
    number: Annotated[
        str | None,
        Query(
            description=(
                "Only expenses whose document has this number (BT-1 of the invoice or credit note), as"
                " `GET /v1/inbound?number=` finds it: ignoring case, `INV-123` finds `inv-123` but not"
                " `INV-1234`; ending in `*` a prefix (`INV-12*`). At most"
                f" {MAX_DOCUMENT_NUMBER} characters besides the `*`, no control character (else a 422"
                " invalid-identifier problem). A document received before migration 0015 is found once"
                " `gateway inbound backfill-numbers` has run."
            ),
        ),
    ] = None,
    since: Annotated[RFC3339DateTime | None, Query(description="Created at or after (RFC 3339)")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    order: Annotated[
        ExpenseOrder,
        Query(
            description=(
                "`newest` (the default): newest first, by the expense's creation. `oldest`: oldest first by"
                " the receipt of the expense's document, so by first-response urgency - with"
                " `status=to_triage`, the expenses whose first Invoice Response (`first_response_due`) is"
                " due soonest lead. The `next_cursor` of a page pages in its order only: a cursor of one"
                " order given with the other is refused (400 invalid-cursor)."
            ),
        ),
    ] = ExpenseOrder.NEWEST,
    cursor: Annotated[
        str | None, Query(description="next_cursor of the previous page, in the same order")
    ] = None,
) -> ExpensePage:
    """List the expenses you may see, newest first (or oldest received first: ``order=oldest``), filtered
    (AND) and paged by a keyset cursor; a member sees their units' only, whatever the filters."""
    oldest = order is ExpenseOrder.OLDEST
    # Only the non-default order is named in its cursors: those made before ``order`` existed still page.
    tag = ExpenseOrder.OLDEST.value if oldest else None
    query = ExpenseQuery(
        unit=unit_key(unit) if unit else None,
        status=status,
        supplier=ParticipantID.parse(supplier).key if supplier else None,
        number=NumberSearch.parse(number) if number is not None else None,
        since=since,
        limit=limit,
        after=decode_cursor(cursor, tag) if cursor else None,
        oldest_first=oldest,
    )
    page = list_expenses(services.store, actor_of(who), query)
    return ExpensePage(
        items=[expense_summary(e, page.first_response_due.get(e.id)) for e in page.items],
        next_cursor=encode_cursor(page.next_cursor, tag) if page.next_cursor else None,
    )


@router.get("/board", response_model=ExpenseBoard, responses=_READ_ERRORS)
def board(services: ServicesDep, who: ExpenseUserDep) -> ExpenseBoard:
    """How many of your expenses are in each status."""
    actor = actor_of(who)
    counts = expense_counts(services.store, actor)
    invalid = None
    if who.role is not Role.MEMBER:
        invalid = received_counts(services.store)[InboundStatus.INVALID]
    return ExpenseBoard(counts={status.value: n for status, n in counts.items()}, invalid_received=invalid)


@router.get("/{expense_id}", response_model=ExpenseResponse, responses=_READ_ERRORS)
def show(services: ServicesDep, who: ExpenseUserDep, expense_id: ExpenseIdPath) -> ExpenseResponse:
    """One expense: the draft, the routing decision, the audit trail and links to the UBL and evidence."""
    return expense_response(get_expense(services.store, actor_of(who), expense_id))


@router.get(
    "/{expense_id}/ubl",
    response_class=Response,
    responses={
        200: file_response("The UBL as received", "application/xml"),
        **_READ_ERRORS,
    },
)
def show_ubl(services: ServicesDep, who: ExpenseUserDep, expense_id: ExpenseIdPath) -> Response:
    """The received invoice or credit note, byte for byte, named after its kind and the expense's number."""
    content, named = expense_file(services.store, actor_of(who), expense_id)
    return Response(
        content.body, media_type="application/xml", headers=download_headers(named.disposition("xml"))
    )


@router.get(
    "/{expense_id}/attachments/{n}",
    response_class=Response,
    responses={
        200: {
            "description": "The embedded file (BT-125) with its MIME type",
            "headers": content_disposition_header(ATTACHMENT_NAME),
        },
        **_READ_ERRORS,
    },
)
def show_attachment(
    services: ServicesDep, who: ExpenseUserDep, expense_id: ExpenseIdPath, n: int
) -> Response:
    """Attachment ``n`` (1-based, in document order) of the received document, decoded; a type outside the
    BIS list goes out as octet-stream, never rendered in our origin."""
    found = expense_attachment(services.store, actor_of(who), expense_id, n)
    return attachment_response(found.content, found.filename, found.mime, n)


@router.get("/{expense_id}/evidence", response_model=EvidenceMessage, responses=_READ_ERRORS)
def show_evidence(services: ServicesDep, who: ExpenseUserDep, expense_id: ExpenseIdPath) -> EvidenceMessage:
    """The AS4 message that carried the document, exactly as received, and the signed receipt we sent."""
    return evidence_out(expense_evidence(services.store, actor_of(who), expense_id))


def _no_fields(body: bytes) -> None:
    """Check the body of an action without parameters: none, empty (or blank), ``null`` and ``{}`` pass
    (as for ``answer``); anything else is refused (422 naming the unexpected field), as it would otherwise
    be ignored without a word."""
    parse_json_body(body, NoFieldsIn, optional=True)


def _act(
    services: ServicesDep,
    who: Principal,
    expense_id: str,
    action: ExpenseAction,
    data: ActionInput,
    key: str | None,
) -> ExpenseSummary:
    """Take the action; ``key``: the Idempotency-Key ``one_idempotency_key`` checked first in the route."""
    return expense_summary(
        services.expenses.act(expense_id, action, actor_of(who), data, idempotency_key=key)
    )


@router.post(
    "/{expense_id}/assign",
    response_model=ExpenseSummary,
    responses=_ACT_ERRORS,
    openapi_extra=json_request_body(AssignIn),
)
def assign(
    request: Request,
    services: ServicesDep,
    who: AssignerDep,
    expense_id: ExpenseIdPath,
    body: BodyDep,
    idempotency_key: ActionKey = None,
) -> ExpenseSummary:
    """Support: assign an expense in triage to a unit, or reassign it (remembers the supplier from triage)."""
    key = one_idempotency_key(request, idempotency_key)
    parsed = parse_json_body(body, AssignIn)
    data = ActionInput(unit=parsed.unit, remember_supplier=parsed.remember_supplier)
    return _act(services, who, expense_id, ExpenseAction.ASSIGN, data, key)


@router.post(
    "/{expense_id}/approve",
    response_model=ExpenseSummary,
    responses=_ACT_ERRORS,
    openapi_extra=json_request_body(NoFieldsIn, required=False),
)
def approve(
    request: Request,
    services: ServicesDep,
    who: ApproverDep,
    expense_id: ExpenseIdPath,
    body: NoFieldsBodyDep,
    idempotency_key: ActionKey = None,
) -> ExpenseSummary:
    """Member of the unit: approve (Invoice Response AP to the supplier). No body, ``null`` or ``{}`` (at
    most 1 KiB): a field is refused, not ignored."""
    key = one_idempotency_key(request, idempotency_key)
    _no_fields(body)
    return _act(services, who, expense_id, ExpenseAction.APPROVE, ActionInput(), key)


@router.post(
    "/{expense_id}/reject",
    response_model=ExpenseSummary,
    responses=_ACT_ERRORS,
    openapi_extra=json_request_body(RejectIn),
)
def reject(
    request: Request,
    services: ServicesDep,
    who: RejecterDep,
    expense_id: ExpenseIdPath,
    body: BodyDep,
    idempotency_key: ActionKey = None,
) -> ExpenseSummary:
    """Member of the unit: reject with a reason (Invoice Response RE with the reason codes)."""
    key = one_idempotency_key(request, idempotency_key)
    parsed = parse_json_body(body, RejectIn)
    data = ActionInput(reason=parsed.reason, reason_codes=tuple(parsed.reason_codes))
    return _act(services, who, expense_id, ExpenseAction.REJECT, data, key)


@router.post(
    "/{expense_id}/query",
    response_model=ExpenseSummary,
    responses=_ACT_ERRORS,
    openapi_extra=json_request_body(QueryIn),
)
def query(
    request: Request,
    services: ServicesDep,
    who: QuerierDep,
    expense_id: ExpenseIdPath,
    body: BodyDep,
    idempotency_key: ActionKey = None,
) -> ExpenseSummary:
    """Member of the unit: ask the supplier a question (Invoice Response UQ); approval halts."""
    key = one_idempotency_key(request, idempotency_key)
    parsed = parse_json_body(body, QueryIn)
    data = ActionInput(question=parsed.question, reason_codes=tuple(parsed.reason_codes))
    return _act(services, who, expense_id, ExpenseAction.QUERY, data, key)


@router.post(
    "/{expense_id}/answer",
    response_model=ExpenseSummary,
    responses=_ACT_ERRORS,
    openapi_extra=json_request_body(AnswerIn, required=False),
)
def answer(
    request: Request,
    services: ServicesDep,
    who: AnswererDep,
    expense_id: ExpenseIdPath,
    body: BodyDep,
    idempotency_key: ActionKey = None,
) -> ExpenseSummary:
    """Record the supplier's answer to a query (the body may be left out); the expense waits for approval
    again."""
    key = one_idempotency_key(request, idempotency_key)
    parsed = parse_json_body(body, AnswerIn, optional=True)
    data = ActionInput(reason=parsed.answer if parsed else None)
    return _act(services, who, expense_id, ExpenseAction.ANSWER, data, key)


@router.post(
    "/{expense_id}/mark-paid",
    response_model=ExpenseSummary,
    responses=_ACT_ERRORS,
    openapi_extra=json_request_body(MarkPaidIn, required=False),
)
def mark_paid(
    request: Request,
    services: ServicesDep,
    who: PayerDep,
    expense_id: ExpenseIdPath,
    body: MarkPaidBodyDep,
    idempotency_key: ActionKey = None,
) -> ExpenseSummary:
    """Record the payment of an approved expense (Invoice Response PD). In full: no body, ``null`` or
    ``{}``. In part: ``partially_paid`` with a ``reason`` (and optionally ``paid_amount``): PD with status
    reason PPD and that text (the amount first, if given); a missing reason, an amount not above 0 and below
    the amount due, or a reason or amount without ``partially_paid`` is a 422. At most 4 KiB."""
    key = one_idempotency_key(request, idempotency_key)
    parsed = parse_json_body(body, MarkPaidIn, optional=True) or MarkPaidIn()
    data = ActionInput(partial=parsed.partially_paid, reason=parsed.reason, paid_amount=parsed.paid_amount)
    return _act(services, who, expense_id, ExpenseAction.MARK_PAID, data, key)


@router.post(
    "/{expense_id}/settle",
    response_model=ExpenseSummary,
    responses=_ACT_ERRORS,
    openapi_extra=json_request_body(NoFieldsIn, required=False),
)
def settle(
    request: Request,
    services: ServicesDep,
    who: SettlerDep,
    expense_id: ExpenseIdPath,
    body: NoFieldsBodyDep,
    idempotency_key: ActionKey = None,
) -> ExpenseSummary:
    """Record that the rest of a partially paid expense was paid. Recorded here only: the supplier was sent
    PD (partially paid), which is final in Peppol, so no Invoice Response follows; 409 unless the payment
    was partial. No body, ``null`` or ``{}`` (at most 1 KiB)."""
    key = one_idempotency_key(request, idempotency_key)
    _no_fields(body)
    return _act(services, who, expense_id, ExpenseAction.SETTLE, ActionInput(), key)
