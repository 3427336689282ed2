"""Expense ports: the expenses with their audit trail, and the production units with the remembered
supplier -> unit mappings. Both live in the document store's unit of work, so a transition, its audit
entry, its webhook and its Invoice Response are committed together or not at all."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from gateway.model.document_number import NumberSearch
from gateway.model.expense import Expense, ExpenseEvent, ExpenseStatus
from gateway.model.units import ProductionUnit, SupplierMapping
from gateway.services.ports.paging import DEFAULT_PAGE_SIZE, Page, PageCursor


@dataclass(frozen=True, slots=True)
class ExpenseQuery:
    """Filters (AND), newest ``created_at`` first (``oldest_first``: oldest receipt first).

    Attributes:
        visible_units: only expenses of these unit keys (a member's view); None sees everything.
        unit: only this unit key.
        status: only this status.
        supplier: only this supplier key (participant id key).
        number: only expenses whose document's number (BT-1) is this one, ignoring case, or starts with it:
            the number key of the received document (``InboundQuery.number``'s), so one received before
            migration 0015 is found once ``gateway inbound backfill-numbers`` has run.
        since: created at or after.
        limit: page size.
        after: continue after this cursor.
        oldest_first: list by the document's receipt (``received_at``), oldest first: the triage queue, the
            earliest first-response deadline first, a draft made days after its receipt (the start-up
            recovery's) included; a cursor continues the order it was made in.
    """

    visible_units: Collection[str] | None = None
    unit: str | None = None
    status: ExpenseStatus | None = None
    supplier: str | None = None
    number: NumberSearch | None = None
    since: datetime | None = None
    limit: int = DEFAULT_PAGE_SIZE
    after: PageCursor | None = None
    oldest_first: bool = False


class ExpenseRepository(Protocol):
    """Expenses and their audit trail."""

    def add(
        self,
        expense: Expense,
        *,
        dedupe_key: str,
        event: ExpenseEvent,
        then: ExpenseEvent | None = None,
    ) -> None:
        """Store a new expense with its CREATED audit entry (``event``) and, given ``then``, the audit entry
        of the step it was stored after (the expense is given in its state after that step: one row
        written instead of a row and its update).

        Raises:
            DuplicateMessage: an expense exists for this inbound document or with this dedupe key (also
                when a concurrent unit of work stored it first).
        """
        ...

    def get(self, expense_id: str, *, for_update: bool = False) -> Expense | None:
        """The expense, or None; ``for_update`` locks the row for the rest of the transaction."""
        ...

    def get_by_inbound(self, inbound_document_id: str) -> Expense | None:
        """The expense of a received document, or None."""
        ...

    def find_duplicate(self, dedupe_key: str) -> Expense | None:
        """The expense with this supplier + kind + number + amount key, or None."""
        ...

    def find_invoice(self, supplier_key: str, number: str) -> Expense | None:
        """The supplier's invoice expense with this number (BT-25 of a credit note), the oldest if several,
        or None. The number is compared whole with the one the invoice's draft keeps: the stored number is
        cut to ``MAX_DOCUMENT_NUMBER`` (``stored_number``), so two invoices may share it."""
        ...

    def record(self, event: ExpenseEvent, *, status_reason: str | None) -> None:
        """Apply an audit entry: status, unit and reason become the entry's; the entry is appended.

        Raises:
            StoreError: no such expense.
        """
        ...

    def add_duplicate(self, expense_id: str, inbound_document_id: str, event: ExpenseEvent) -> None:
        """Remember that ``inbound_document_id`` repeated the expense and append the audit entry.

        Raises:
            DuplicateMessage: that document is already recorded as a duplicate.
        """
        ...

    def events(self, expense_id: str) -> list[ExpenseEvent]:
        """The audit trail, oldest first."""
        ...

    def action_key(self, expense_id: str, client: str, key: str) -> str | None:
        """The fingerprint of the request that ``client`` sent with Idempotency-Key ``key`` on the expense
        when it changed nothing (``keep_action_key``), None when no such key is kept (keys of recorded
        actions are in their audit entries: ``services.expense_keys``)."""
        ...

    def keep_action_key(self, expense_id: str, client: str, key: str, fingerprint: str, at: datetime) -> None:
        """Remember ``client``'s Idempotency-Key ``key`` of a request that changed nothing on the expense,
        with its request's ``fingerprint``; purged after the idempotency retention (``store.retention``).
        The caller holds the expense's row lock and found no such key (``action_key``)."""
        ...

    def search(self, query: ExpenseQuery) -> Page[Expense]:
        """One page of matching expenses, newest first (or oldest, as the query says)."""
        ...

    def received_at(self, expense_ids: Collection[str]) -> dict[str, datetime]:
        """When the document of each of these expenses was received, by expense id (one query)."""
        ...

    def count_in_triage_received_before(self, cutoff: datetime) -> int:
        """How many expenses in triage have a document received before ``cutoff`` (one COUNT)."""
        ...

    def awaiting_draft(self, *, limit: int, received_since: datetime | None = None) -> list[str]:
        """Ids of valid received invoices and credit notes that have no expense and are not recorded as
        a duplicate of one, oldest first (the recovery pass); given ``received_since``, only those received
        from then on (an index range, not the whole history)."""
        ...

    def count_by_status(self, visible_units: Collection[str] | None = None) -> dict[ExpenseStatus, int]:
        """Expenses per status (every status present), optionally of some units only."""
        ...


class UnitRepository(Protocol):
    """Production units and supplier mappings."""

    def put(self, unit: ProductionUnit, *, at: datetime) -> None:
        """Create or replace the unit with this key."""
        ...

    def get(self, key: str) -> ProductionUnit | None:
        """The unit with this key, or None."""
        ...

    def get_many(self, keys: Collection[str]) -> dict[str, ProductionUnit]:
        """The units with these keys that exist, by key."""
        ...

    def all(self) -> list[ProductionUnit]:
        """Every unit, by key."""
        ...

    def all_keys(self) -> list[str]:
        """Every unit key (cheap: routing needs the code prefixes of all units)."""
        ...

    def units_of_member(self, member: str) -> frozenset[str]:
        """Keys of the units whose member list names ``member``."""
        ...

    def put_mapping(self, mapping: SupplierMapping) -> None:
        """Create or replace the supplier's mapping."""
        ...

    def get_mapping(self, supplier_key: str) -> SupplierMapping | None:
        """The supplier's mapping (expired or not), or None."""
        ...
