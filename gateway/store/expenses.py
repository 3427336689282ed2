"""SQL repositories of expenses (with their audit trail), production units and supplier mappings."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Row, Select, bindparam, delete, func, insert, select, tuple_, update

from gateway.errors import StoreError
from gateway.model.document_number import stored_number
from gateway.model.expense import ActorRole, Expense, ExpenseAction, ExpenseEvent, ExpenseStatus
from gateway.model.message import InboundStatus
from gateway.model.units import ProductionUnit, SupplierMapping
from gateway.services.ports import MAX_PAGE_SIZE, ExpenseQuery, Page, PageCursor
from gateway.store.errors import map_db_errors
from gateway.store.number_search import number_conditions
from gateway.store.savepoints import first_insert_refusable
from gateway.store.tables import (
    expense_action_keys,
    expense_duplicates,
    expense_events,
    expenses,
    inbound_documents,
    production_unit_members,
    production_units,
    supplier_units,
)

#: Document types whose valid received documents become expenses (the payload root namespaces).
_BILLING_DOCTYPE_PREFIXES = (
    "busdox-docid-qns::urn:oasis:names:specification:ubl:schema:xsd:Invoice-2::",
    "busdox-docid-qns::urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2::",
)

# The lookups of the receive path's expense draft, built once (see store/documents.py).
_BY_ID = select(expenses).where(expenses.c.id == bindparam("b_id"))
_BY_ID_FOR_UPDATE = _BY_ID.with_for_update()
_BY_INBOUND = select(expenses).where(expenses.c.inbound_document_id == bindparam("b_inbound"))
_BY_DEDUPE_KEY = select(expenses).where(expenses.c.dedupe_key == bindparam("b_key"))
_INVOICE = (
    select(expenses)
    .where(
        expenses.c.supplier_key == bindparam("b_supplier"),
        expenses.c.number == bindparam("b_number"),
        expenses.c.kind == "invoice",
    )
    .order_by(expenses.c.created_at, expenses.c.id)
)
_UPDATE = update(expenses).where(expenses.c.id == bindparam("b_id"))
_MAPPING = select(supplier_units).where(supplier_units.c.supplier_key == bindparam("b_supplier"))
_INSERT_EXPENSE = insert(expenses)
_INSERT_EVENT = insert(expense_events)
_UNIT_KEYS = select(production_units.c.key)
_ACTION_KEY = select(expense_action_keys.c.fingerprint).where(
    expense_action_keys.c.expense_id == bindparam("b_id"),
    expense_action_keys.c.client == bindparam("b_client"),
    expense_action_keys.c.key == bindparam("b_key"),
)
_INSERT_ACTION_KEY = insert(expense_action_keys)


def _draft_number(draft: Any) -> str | None:
    """The whole number (BT-1) an expense's draft keeps, stripped; None without one."""
    number = draft.get("number") if isinstance(draft, dict) else None
    return number.strip() if isinstance(number, str) else None


def _expense_from_row(row: Row[Any], duplicates: tuple[str, ...] = ()) -> Expense:
    return Expense(
        id=row.id,
        inbound_document_id=row.inbound_document_id,
        kind=row.kind,
        status=ExpenseStatus(row.status),
        unit_code=row.unit_key,
        supplier_key=row.supplier_key,
        supplier_name=row.supplier_name,
        number=row.number,
        currency=row.currency,
        amount=Decimal(row.amount),
        issue_date=row.issue_date,
        draft=row.draft,
        routing=row.routing,
        created_at=row.created_at,
        updated_at=row.updated_at,
        credited_expense_id=row.credited_expense_id,
        duplicates=duplicates,
        status_reason=row.status_reason,
    )


def _event_from_row(row: Row[Any]) -> ExpenseEvent:
    return ExpenseEvent(
        expense_id=row.expense_id,
        at=row.at,
        actor=row.actor,
        role=ActorRole(row.role),
        action=ExpenseAction(row.action),
        from_status=ExpenseStatus(row.from_status) if row.from_status else None,
        to_status=ExpenseStatus(row.to_status),
        unit_code=row.unit_key,
        detail=row.detail,
    )


def _event_values(event: ExpenseEvent) -> dict[str, Any]:
    return {
        "expense_id": event.expense_id,
        "at": event.at,
        "actor": event.actor,
        "role": event.role.value,
        "action": event.action.value,
        "from_status": event.from_status.value if event.from_status else None,
        "to_status": event.to_status.value,
        "unit_key": event.unit_code,
        "detail": event.detail,
    }


class SQLExpenseRepository:
    """ExpenseRepository on one connection inside a unit of work's transaction."""

    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def add(
        self,
        expense: Expense,
        *,
        dedupe_key: str,
        event: ExpenseEvent,
        then: ExpenseEvent | None = None,
    ) -> None:
        values = {
            "id": expense.id,
            "inbound_document_id": expense.inbound_document_id,
            "kind": expense.kind,
            "status": expense.status.value,
            "unit_key": expense.unit_code,
            "supplier_key": expense.supplier_key,
            "supplier_name": expense.supplier_name,
            "number": expense.number,
            "currency": expense.currency,
            "amount": str(expense.amount),
            "issue_date": expense.issue_date,
            "dedupe_key": dedupe_key,
            "draft": expense.draft,
            "routing": expense.routing,
            "credited_expense_id": expense.credited_expense_id,
            "status_reason": expense.status_reason,
            "created_at": expense.created_at,
            "updated_at": expense.updated_at,
        }
        with map_db_errors("expense"), first_insert_refusable(self._conn):
            self._conn.execute(_INSERT_EXPENSE, values)
        # The audit entries in one statement: the CREATED entry and, given, the step the expense was
        # stored after (its status, unit and reason are already the row's).
        self._append(*((event,) if then is None else (event, then)))

    def _append(self, *events: ExpenseEvent) -> None:
        """Insert audit entries in one statement (several: one executemany)."""
        rows = [_event_values(event) for event in events]
        with map_db_errors("expense event"):
            self._conn.execute(_INSERT_EVENT, rows if len(rows) > 1 else rows[0])

    def _one(self, stmt: Select[Any], params: dict[str, Any]) -> Expense | None:
        with map_db_errors("expense"):
            row = self._conn.execute(stmt, params).first()
        if row is None:
            return None
        return _expense_from_row(row, self._duplicates([row.id]).get(row.id, ()))

    def _duplicates(self, expense_ids: list[str]) -> dict[str, tuple[str, ...]]:
        if not expense_ids:
            return {}
        d = expense_duplicates
        stmt = (
            select(d.c.expense_id, d.c.inbound_document_id)
            .where(d.c.expense_id.in_(expense_ids))
            .order_by(d.c.at, d.c.inbound_document_id)
        )
        found: dict[str, tuple[str, ...]] = {}
        with map_db_errors("expense duplicates"):
            for expense_id, inbound_id in self._conn.execute(stmt):
                found[expense_id] = (*found.get(expense_id, ()), inbound_id)
        return found

    def get(self, expense_id: str, *, for_update: bool = False) -> Expense | None:
        return self._one(_BY_ID_FOR_UPDATE if for_update else _BY_ID, {"b_id": expense_id})

    def get_by_inbound(self, inbound_document_id: str) -> Expense | None:
        return self._one(_BY_INBOUND, {"b_inbound": inbound_document_id})

    def find_duplicate(self, dedupe_key: str) -> Expense | None:
        return self._one(_BY_DEDUPE_KEY, {"b_key": dedupe_key})

    def find_invoice(self, supplier_key: str, number: str) -> Expense | None:
        # The column holds the number cut to MAX_DOCUMENT_NUMBER characters (``stored_number``): the invoices
        # it finds are told apart by the whole number their draft keeps, a number of 200 characters from
        # a longer one stored under the same 200.
        with map_db_errors("expense"):
            rows = self._conn.execute(
                _INVOICE, {"b_supplier": supplier_key, "b_number": stored_number(number) or number}
            ).all()
        whole = number.strip()
        row = next((r for r in rows if _draft_number(r.draft) == whole), None)
        if row is None:
            return None
        return _expense_from_row(row, self._duplicates([row.id]).get(row.id, ()))

    def record(self, event: ExpenseEvent, *, status_reason: str | None) -> None:
        with map_db_errors("expense transition"):
            values = {
                "status": event.to_status.value,
                "unit_key": event.unit_code,
                "status_reason": status_reason,
                "updated_at": event.at,
            }
            result = self._conn.execute(_UPDATE, {"b_id": event.expense_id, **values})
        if result.rowcount != 1:
            raise StoreError(f"no expense {event.expense_id!r}")
        self._append(event)

    def add_duplicate(self, expense_id: str, inbound_document_id: str, event: ExpenseEvent) -> None:
        with map_db_errors("expense duplicate"), self._conn.begin_nested():
            self._conn.execute(
                insert(expense_duplicates),
                {"inbound_document_id": inbound_document_id, "expense_id": expense_id, "at": event.at},
            )
        with map_db_errors("expense duplicate"):
            result = self._conn.execute(
                update(expenses).where(expenses.c.id == expense_id).values(updated_at=event.at)
            )
        if result.rowcount != 1:
            raise StoreError(f"no expense {expense_id!r}")
        self._append(event)

    def events(self, expense_id: str) -> list[ExpenseEvent]:
        e = expense_events
        with map_db_errors("expense events"):
            rows = self._conn.execute(select(e).where(e.c.expense_id == expense_id).order_by(e.c.id)).all()
        return [_event_from_row(row) for row in rows]

    def action_key(self, expense_id: str, client: str, key: str) -> str | None:
        with map_db_errors("expense action key"):
            found = self._conn.execute(
                _ACTION_KEY, {"b_id": expense_id, "b_client": client, "b_key": key}
            ).scalar()
        return None if found is None else str(found)

    def keep_action_key(self, expense_id: str, client: str, key: str, fingerprint: str, at: datetime) -> None:
        values = {"expense_id": expense_id, "client": client, "key": key, "fingerprint": fingerprint}
        with map_db_errors("expense action key"):
            self._conn.execute(_INSERT_ACTION_KEY, {**values, "created_at": at})

    def search(self, query: ExpenseQuery) -> Page[Expense]:
        if not 1 <= query.limit <= MAX_PAGE_SIZE:
            raise ValueError(f"page size {query.limit} is not within 1..{MAX_PAGE_SIZE}")
        t = expenses
        conditions: list[Any] = []
        if query.visible_units is not None:
            conditions.append(t.c.unit_key.in_(sorted(query.visible_units)))
        if query.unit is not None:
            conditions.append(t.c.unit_key == query.unit)
        if query.status is not None:
            conditions.append(t.c.status == query.status.value)
        if query.supplier is not None:
            conditions.append(t.c.supplier_key == query.supplier)
        if query.since is not None:
            conditions.append(t.c.created_at >= query.since)
        # Oldest first (the triage queue) is by the document's receipt, where its first response's deadline
        # starts: a draft made days later (the start-up recovery's) still leads the queue. Read per expense
        # (by the document's key), not joined: a join lets PostgreSQL walk every document in receipt order
        # looking for the few in triage (0.9 s for 500,000 documents), where this reads the matching
        # expenses and sorts them (as the overdue count). Newest first is by the expense's creation, on its
        # own (created_at, id) index.
        d = inbound_documents
        received = select(d.c.received_at).where(d.c.id == t.c.inbound_document_id).scalar_subquery()
        key = received if query.oldest_first else t.c.created_at
        if query.after is not None:
            after = query.after
            if query.oldest_first:  # one row value: the document's receipt read once per expense
                conditions.append(tuple_(key, t.c.id) > tuple_(after.at, after.id))
            else:
                conditions.append((key < after.at) | ((key == after.at) & (t.c.id < after.id)))
        if query.number is not None:
            # The expense's number is its received document's (the same cbc:ID, stripped alike), whose
            # lower-case key, indexed, finds the documents of the number (the expense table has no key of
            # its own); each has one expense at most (unique inbound_document_id). README: its cost.
            numbered = number_conditions(d.c.document_number_key, query.number, self._conn.dialect.name)
            conditions.append(t.c.inbound_document_id.in_(select(d.c.id).where(*numbered)))
        order = (key, t.c.id) if query.oldest_first else (key.desc(), t.c.id.desc())
        stmt = select(t, key.label("page_key")).where(*conditions).order_by(*order)
        with map_db_errors("expense search"):
            rows = self._conn.execute(stmt.limit(query.limit + 1)).all()
        cursor = None
        if len(rows) > query.limit:
            rows = rows[: query.limit]
            cursor = PageCursor(rows[-1].page_key, rows[-1].id)
        duplicates = self._duplicates([row.id for row in rows])
        return Page(tuple(_expense_from_row(row, duplicates.get(row.id, ())) for row in rows), cursor)

    def awaiting_draft(self, *, limit: int, received_since: datetime | None = None) -> list[str]:
        d = inbound_documents
        doctype = d.c.document_type_id
        recent = [] if received_since is None else [d.c.received_at >= received_since]
        stmt = (
            select(d.c.id)
            .outerjoin(expenses, expenses.c.inbound_document_id == d.c.id)
            .outerjoin(expense_duplicates, expense_duplicates.c.inbound_document_id == d.c.id)
            .where(
                d.c.status == InboundStatus.VALID.value,
                *recent,  # the (status, received_at) index serves the range
                expenses.c.id.is_(None),
                expense_duplicates.c.inbound_document_id.is_(None),
                doctype.startswith(_BILLING_DOCTYPE_PREFIXES[0])
                | doctype.startswith(_BILLING_DOCTYPE_PREFIXES[1]),
            )
            .order_by(d.c.received_at, d.c.id)
            .limit(limit)
        )
        with map_db_errors("inbound awaiting a draft"):
            return [row.id for row in self._conn.execute(stmt)]

    def received_at(self, expense_ids: Collection[str]) -> dict[str, datetime]:
        if not expense_ids:
            return {}
        t, d = expenses, inbound_documents
        stmt = (
            select(t.c.id, d.c.received_at)
            .join(d, d.c.id == t.c.inbound_document_id)
            .where(t.c.id.in_(sorted(expense_ids)))
        )
        with map_db_errors("expense receipt times"):
            return {row.id: row.received_at for row in self._conn.execute(stmt)}

    def count_in_triage_received_before(self, cutoff: datetime) -> int:
        t, d = expenses, inbound_documents
        # The (status, created_at) index finds the triaged expenses; each joins its document by key.
        stmt = (
            select(func.count())
            .select_from(t.join(d, d.c.id == t.c.inbound_document_id))
            .where(t.c.status == ExpenseStatus.TO_TRIAGE.value, d.c.received_at < cutoff)
        )
        with map_db_errors("expenses overdue in triage"):
            return int(self._conn.execute(stmt).scalar_one())

    def count_by_status(self, visible_units: Collection[str] | None = None) -> dict[ExpenseStatus, int]:
        t = expenses
        stmt = select(t.c.status, func.count()).group_by(t.c.status)
        if visible_units is not None:
            stmt = stmt.where(t.c.unit_key.in_(sorted(visible_units)))
        counts = dict.fromkeys(ExpenseStatus, 0)
        with map_db_errors("expense counts"):
            for status, count in self._conn.execute(stmt).all():
                counts[ExpenseStatus(status)] = int(count)
        return counts


class SQLUnitRepository:
    """UnitRepository on one connection inside a unit of work's transaction."""

    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def put(self, unit: ProductionUnit, *, at: datetime) -> None:
        u, m = production_units, production_unit_members
        values = {
            "key": unit.key,
            "code": unit.code,
            "name": unit.name,
            "active": unit.active,
            "updated_at": at,
        }
        # Delete + insert: one portable upsert for SQLite and PostgreSQL (members go with the unit).
        with map_db_errors("production unit"):
            self._conn.execute(delete(m).where(m.c.unit_key == unit.key))
            self._conn.execute(delete(u).where(u.c.key == unit.key))
            self._conn.execute(insert(u), values)
            members = sorted(set(unit.members))
            if members:
                self._conn.execute(insert(m), [{"unit_key": unit.key, "member": name} for name in members])

    def _load(self, *conditions: Any) -> list[ProductionUnit]:
        u, m = production_units, production_unit_members
        with map_db_errors("production units"):
            rows = self._conn.execute(select(u).where(*conditions).order_by(u.c.key)).all()
            members: dict[str, list[str]] = {}
            keys = [row.key for row in rows]
            for start in range(0, len(keys), 500):  # bounded IN lists
                chunk = keys[start : start + 500]
                stmt = select(m.c.unit_key, m.c.member).where(m.c.unit_key.in_(chunk)).order_by(m.c.member)
                for unit_key_, member in self._conn.execute(stmt):
                    members.setdefault(unit_key_, []).append(member)
        return [
            ProductionUnit(row.code, row.name, bool(row.active), tuple(members.get(row.key, ())))
            for row in rows
        ]

    def get(self, key: str) -> ProductionUnit | None:
        found = self._load(production_units.c.key == key)
        return found[0] if found else None

    def get_many(self, keys: Collection[str]) -> dict[str, ProductionUnit]:
        if not keys:
            return {}
        return {unit.key: unit for unit in self._load(production_units.c.key.in_(sorted(keys)))}

    def all(self) -> list[ProductionUnit]:
        return self._load()

    def all_keys(self) -> list[str]:
        with map_db_errors("production unit keys"):
            return [row.key for row in self._conn.execute(_UNIT_KEYS)]

    def units_of_member(self, member: str) -> frozenset[str]:
        m = production_unit_members
        with map_db_errors("production unit members"):
            return frozenset(
                row.unit_key for row in self._conn.execute(select(m.c.unit_key).where(m.c.member == member))
            )

    def put_mapping(self, mapping: SupplierMapping) -> None:
        s = supplier_units
        with map_db_errors("supplier mapping"):
            self._conn.execute(delete(s).where(s.c.supplier_key == mapping.supplier_key))
            self._conn.execute(
                insert(s),
                {
                    "supplier_key": mapping.supplier_key,
                    "unit_key": mapping.unit_code,
                    "set_by": mapping.set_by,
                    "set_at": mapping.set_at,
                    "expires_at": mapping.expires_at,
                },
            )

    def get_mapping(self, supplier_key: str) -> SupplierMapping | None:
        with map_db_errors("supplier mapping"):
            row = self._conn.execute(_MAPPING, {"b_supplier": supplier_key}).first()
        if row is None:
            return None
        return SupplierMapping(row.supplier_key, row.unit_key, row.set_by, row.set_at, row.expires_at)
