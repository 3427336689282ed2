"""Expense pages: the triage queue with its assign-to-unit form (support), the expense inbox and one
expense with approve / reject with a reason / query (members, for their own units only), mark paid in full
or in part, and record the rest of a partial payment (support)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import Annotated, Any, Final

import anyio.to_thread
from fastapi import APIRouter, Depends
from fastapi.responses import RedirectResponse, Response

from gateway.errors import InvalidIdentifier, InvalidPayment, InvalidTransition
from gateway.model import ParticipantID
from gateway.model.document_number import MAX_DOCUMENT_NUMBER, NumberSearch
from gateway.model.expense import (
    ExpenseAction,
    ExpenseEvent,
    ExpenseStatus,
    SupplierAnswer,
    supplier_answer,
)
from gateway.model.first_response import response_urgency
from gateway.model.message import DocumentContent
from gateway.model.partial_payment import MAX_PAYMENT_NOTE, is_partial
from gateway.render.file_names import Named
from gateway.services.document_files import expense_file
from gateway.services.expense_queries import get_expense, list_expenses
from gateway.services.expenses import MAX_ACTION_TEXT, ActionInput
from gateway.services.inbound_queries import get_inbound
from gateway.services.ports import ExpenseQuery
from gateway.services.units import list_units
from gateway.web.document_routes import PAGE_SIZE, attachment_response, rendered_invoice
from gateway.web.downloads import PdfProblem, pdf_or_page, ubl_download
from gateway.web.i18n import page_language, translate
from gateway.web.pages import (
    PageContext,
    PageRoute,
    checked_form,
    cursor_text,
    page,
    parse_cursor,
    query_link,
    require_person,
    require_staff,
)
from gateway.web.people import audit
from gateway.web.status_reasons import DEFAULT_REASON, REASON_LABELS, form_reason_codes
from gateway.web.triage_reasons import triage_reasons

router = APIRouter(prefix="/web", route_class=PageRoute, include_in_schema=False)

PersonDep = Annotated[PageContext, Depends(require_person)]
StaffDep = Annotated[PageContext, Depends(require_staff)]

#: What the page says after each action.
DONE: Final = {
    "assign": "Assigned to the unit.",
    "approve": "Approved.",
    "reject": "Rejected.",
    "query": "Question recorded; approval waits for the supplier's answer.",
    "answer": "The supplier's answer is recorded; the expense waits for approval again.",
    "mark-paid": "Marked as paid.",
    "settle": "The rest of the payment is recorded. The supplier is not told: Peppol allows no answer after "
    "a payment (PD).",
}
# Whether the supplier heard of it is said from the audit entry (``supplier_answer``), never assumed: a
# supplier that does not receive Invoice Responses through Peppol gets none.

#: The actions a page form may take, by the last segment of its address: one POST route each, so an address
#: of no action is no page's (the /web catch-all answers it 404, whatever the method).
ACTIONS: Final = {
    "assign": ExpenseAction.ASSIGN,
    "approve": ExpenseAction.APPROVE,
    "reject": ExpenseAction.REJECT,
    "query": ExpenseAction.QUERY,
    "answer": ExpenseAction.ANSWER,
    "mark-paid": ExpenseAction.MARK_PAID,
    "settle": ExpenseAction.SETTLE,
}


#: The status choice "every status" of the inbox's form, kept in its links (an absent status is the
#: default, ``to_approve``: a page link without it would change the listing).
ANY_STATUS: Final = "any"
#: The text a decision needs, by action: the form field and what the page says when it is blank (the
#: browser's ``required`` lets a text of blanks through).
TEXT_NEEDED: Final = {
    "reject": ("reason", "Write the reason for rejecting: the supplier receives it."),
    "query": ("question", "Write your question to the supplier."),
}
#: An action the expense's status no longer allows: someone acted on it since the page was shown.
ACTED_MEANWHILE: Final = (
    "This expense changed meanwhile: someone else acted on it since you opened this page, and your action"
    " was not taken. The page shows it as it is now."
)


def _status(text: str | None) -> ExpenseStatus | None:
    if not text or text == ANY_STATUS:
        return None
    try:
        return ExpenseStatus(text)
    except ValueError as exc:
        raise InvalidIdentifier(f"{text!r} is not an expense status") from exc


@dataclass(frozen=True, slots=True)
class _Search:
    """The inbox's search as typed (stripped) and as read; ``refused`` names the field that is not one.

    Attributes:
        number: the document number typed.
        supplier: the supplier's Peppol id typed.
        number_search: the number as searched (``NumberSearch``), if typed and valid.
        supplier_key: the supplier's key, if typed and valid.
        refused: ``number`` or ``supplier`` when that field holds what cannot be one.
    """

    number: str
    supplier: str
    number_search: NumberSearch | None = None
    supplier_key: str | None = None
    refused: str | None = None


def _search(number: str | None, supplier: str | None) -> _Search:
    """Read the inbox's search fields: the number as ``GET /v1/expenses?number=`` reads it, the supplier
    as its ``supplier=``."""
    typed = _Search((number or "").strip(), (supplier or "").strip())
    try:
        searched = NumberSearch.parse(typed.number) if typed.number else None
    except InvalidIdentifier:
        return replace(typed, refused="number")
    try:
        key = ParticipantID.parse(typed.supplier).key if typed.supplier else None
    except InvalidIdentifier:
        return replace(typed, refused="supplier")
    return replace(typed, number_search=searched, supplier_key=key)


def _listing(
    context: PageContext,
    path: str,
    template: str,
    status: str | None,
    cursor: str | None,
    search: _Search | None = None,
    *,
    oldest_first: bool = False,
) -> Response:
    search = search or _Search("", "")
    # The links keep the status and the search; the form has no cursor: a new search starts at page one.
    filters = {"status": status, "number": search.number, "supplier": search.supplier}
    values: dict[str, Any] = {
        "status": status or "",
        "statuses": [s.value for s in ExpenseStatus],
        "any_status": ANY_STATUS,
        "search": search,
        "max_number": MAX_DOCUMENT_NUMBER,
        "units": list_units(context.services.store) if template == "triage.html" else [],
        # The triage queue says when each first Invoice Response is due, and how urgent it is.
        "show_due": template == "triage.html",
        # ... and why each waits there, as its page does.
        "show_why": template == "triage.html",
        "due": {},
        "urgency": {},
        "why": {},
    }
    if search.refused is not None:
        _status(status)  # a bad status is refused as without a search
        return page(
            context.request,
            template,
            422,
            session=context.session,
            expenses=[],
            next_link=None,
            first_link=None,
            **values,
        )
    query = ExpenseQuery(
        status=_status(status),
        supplier=search.supplier_key,
        number=search.number_search,
        limit=PAGE_SIZE,
        after=parse_cursor(cursor),
        oldest_first=oldest_first,
    )
    result = list_expenses(context.services.store, context.person.actor(), query)
    now = context.services.clock.now()
    values["due"] = result.first_response_due
    values["urgency"] = {key: response_urgency(due, now) for key, due in result.first_response_due.items()}
    if values["show_why"]:
        values["why"] = {e.id: triage_reasons(e.status_reason) for e in result.items}
    following = cursor_text(result.next_cursor)
    return page(
        context.request,
        template,
        session=context.session,
        expenses=result.items,
        next_link=query_link(path, {**filters, "cursor": following}) if following else None,
        first_link=query_link(path, filters) if cursor else None,
        **values,
    )


@router.get("/expenses")
def inbox(
    context: PersonDep,
    status: str | None = ExpenseStatus.TO_APPROVE.value,
    number: str | None = None,
    supplier: str | None = None,
    cursor: str | None = None,
) -> Response:
    """The expenses waiting for approval in the person's units (support sees every unit), or those of
    another status (``any``: every one), searched by the document's number (ignoring case; ending in
    ``*``, the numbers starting with it) and the supplier's Peppol id. What cannot be a number or an id is
    said on the form (422)."""
    listed = status or ANY_STATUS  # an empty choice (an older link) is every status, said in the links
    return _listing(context, "/web/expenses", "expense_list.html", listed, cursor, _search(number, supplier))


@router.get("/triage")
def triage(context: StaffDep, cursor: str | None = None) -> Response:
    """Supplier invoices no rule could route, each with an assign-to-unit form and the day its first
    Invoice Response is due (flagged when overdue or due by the next working day); oldest first, so the
    most urgent lead the first page."""
    return _listing(
        context, "/web/triage", "triage.html", ExpenseStatus.TO_TRIAGE.value, cursor, oldest_first=True
    )


def _answer_after(events: Sequence[ExpenseEvent], done: str | None) -> SupplierAnswer | None:
    """After an action, what became of its Invoice Response: the latest action on the expense's (a flagged
    duplicate is none), said only when it is the action ``done`` names - not another one taken meanwhile,
    nor one a hand-made address names."""
    last = next((e for e in reversed(events) if e.action is not ExpenseAction.DUPLICATE), None)
    return supplier_answer(last) if last is not None and last.action.value == done else None


@router.get("/expenses/{expense_id}")
def expense(context: PersonDep, expense_id: str, done: str | None = None) -> Response:
    """One expense: the rendered supplier invoice, its audit trail and the actions the person may take."""
    return _expense_page(context, expense_id, done=done)


def _paid_in_part(events: Sequence[ExpenseEvent]) -> bool:
    """True when the expense's payment (MARK_PAID) was partial and its rest is not recorded yet."""
    for event in reversed(events):
        if event.action is ExpenseAction.SETTLE:
            return False
        if event.action is ExpenseAction.MARK_PAID:
            return is_partial(event.detail)
    return False


def _expense_page(
    context: PageContext,
    expense_id: str,
    *,
    done: str | None = None,
    pdf_problem: PdfProblem | None = None,
    payment_error: str | None = None,
    payment_form: dict[str, str] | None = None,
    refused: str | None = None,
    refused_status: int = 409,
) -> Response:
    """The expense's page; with ``pdf_problem`` it says why the document's PDF was not made, with that
    status; with ``payment_error`` the mark-paid form says what is wrong (422), keeping ``payment_form``;
    with ``refused`` it says why the action sent was not taken (``refused_status``: 409 when the expense
    changed meanwhile, 422 for a blank text)."""
    detail = get_expense(context.services.store, context.person.actor(), expense_id)
    content = get_inbound(context.services.store, detail.expense.inbound_document_id).content
    status = detail.expense.status
    answers = [supplier_answer(event) for event in detail.events]
    in_part = status is ExpenseStatus.PAID and _paid_in_part(detail.events)
    # In triage, when the supplier's first Invoice Response is due and how urgent (as on the triage queue).
    due = detail.first_response_due
    code = pdf_problem.status if pdf_problem else refused_status if refused else 200
    response = page(
        context.request,
        "expense.html",
        422 if payment_error else code,
        session=context.session,
        detail=detail,
        expense=detail.expense,
        done=DONE.get(done or ""),
        answers=answers,
        last_answer=_answer_after(detail.events, done),
        why=triage_reasons(detail.expense.status_reason) if status is ExpenseStatus.TO_TRIAGE else [],
        reasons=REASON_LABELS,
        default_reason=DEFAULT_REASON,
        can_decide=status is ExpenseStatus.TO_APPROVE,
        can_query=status is ExpenseStatus.TO_APPROVE,
        can_answer=context.person.staff and status is ExpenseStatus.UNDER_QUERY,
        can_mark_paid=context.person.staff and status is ExpenseStatus.APPROVED,
        paid_in_part=in_part,
        can_settle=context.person.staff and in_part,
        payment_error=payment_error,
        refused=refused,
        payment_form=payment_form or {"payment": "full", "reason": "", "paid_amount": ""},
        max_payment_note=MAX_PAYMENT_NOTE,
        max_action_text=MAX_ACTION_TEXT,
        can_assign=context.person.staff and status in (ExpenseStatus.TO_TRIAGE, ExpenseStatus.TO_APPROVE),
        units=list_units(context.services.store) if context.person.staff else [],
        pdf_problem=pdf_problem,
        first_response_due=due,
        first_response_urgency=response_urgency(due, context.services.clock.now()) if due else None,
        **rendered_invoice(context.request, content, f"/web/expenses/{expense_id}/attachments"),
    )
    response.headers.update(pdf_problem.headers() if pdf_problem else {})
    return response


def _expense_document(context: PageContext, expense_id: str) -> tuple[DocumentContent, Named]:
    """The supplier's document of an expense the person sees, and what names its downloads."""
    return expense_file(context.services.store, context.person.actor(), expense_id)


@router.get("/expenses/{expense_id}/document.pdf")
async def expense_pdf(context: PersonDep, expense_id: str) -> Response:
    """The supplier's document printed as a PDF (the API's rendering), or the expense's page saying why
    not; members only for their units (another unit's expense is a 404, as its page)."""
    load = partial(_expense_document, context, expense_id)
    return await pdf_or_page(context, load, partial(_expense_page, context, expense_id))


@router.get("/expenses/{expense_id}/document.xml")
def expense_ubl(context: PersonDep, expense_id: str) -> Response:
    """The supplier's UBL, byte for byte (members: only for their units)."""
    content, named = _expense_document(context, expense_id)
    return ubl_download(context, content.body, named)


async def _act(context: PageContext, expense_id: str, action: str) -> Response:
    """Take ``action``: the workflow checks the units and the status, and audits it; a role that may not
    take it gets 403."""
    form = await checked_form(context)
    needed = TEXT_NEEDED.get(action)
    if needed is not None and not (form.get(needed[0]) or "").strip():
        return await anyio.to_thread.run_sync(
            lambda: _expense_page(context, expense_id, refused=needed[1], refused_status=422)
        )
    partial = action == "mark-paid" and form.get("payment") == "partial"
    data = ActionInput(
        unit=form.get("unit") or None,
        reason=form.get("reason") or form.get("answer") or None,
        reason_codes=form_reason_codes(form.get("reason_code")),
        question=form.get("question") or None,
        partial=partial,
        paid_amount=(form.get("paid_amount") or None) if action == "mark-paid" else None,
    )
    actor = context.person.actor()
    workflow = context.services.expenses
    try:
        await anyio.to_thread.run_sync(lambda: workflow.act(expense_id, ACTIONS[action], actor, data))
    except InvalidPayment as exc:  # said on the mark-paid form, with what was typed
        message = translate(page_language(context.request), exc.message) % exc.values
        typed = {
            "payment": "partial" if partial else "full",
            "reason": form.get("reason") or "",
            "paid_amount": form.get("paid_amount") or "",
        }
        return await anyio.to_thread.run_sync(
            lambda: _expense_page(context, expense_id, payment_error=message, payment_form=typed)
        )
    except InvalidTransition:  # said on the expense's page as it is now, in the person's language
        return await anyio.to_thread.run_sync(
            lambda: _expense_page(context, expense_id, refused=ACTED_MEANWHILE)
        )
    audit.info("expense %s: %s by %s", expense_id, action, actor.name)
    back = form.get("back")
    if back == "triage":
        return RedirectResponse("/web/triage", status_code=303)
    return RedirectResponse(f"/web/expenses/{expense_id}?done={action}", status_code=303)


def _action_page(action: str) -> Callable[[PageContext, str], Awaitable[Response]]:
    """The page handler of ``action``'s route."""

    async def act(context: PersonDep, expense_id: str) -> Response:
        """Take this route's action (``_act``)."""
        return await _act(context, expense_id, action)

    return act


for _action in ACTIONS:
    router.post(f"/expenses/{{expense_id}}/{_action}", name=f"expense_{_action.replace('-', '_')}")(
        _action_page(_action)
    )


@router.get("/expenses/{expense_id}/attachments/{index}")
def expense_attachment(context: PersonDep, expense_id: str, index: int) -> Response:
    """An embedded file of the supplier's document (members: only for their units)."""
    detail = get_expense(context.services.store, context.person.actor(), expense_id)
    content = get_inbound(context.services.store, detail.expense.inbound_document_id).content
    return attachment_response(content, expense_id, index)
