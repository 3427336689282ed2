"""Routing of a received invoice or credit note to one production unit or to triage (bis-billing.md §8).

Pure (sans-IO): a function of the document model, the units, the supplier's remembered mapping and the
ordered rule list, returning a :class:`RoutingDecision` that says which rule matched and why.

* Document rules read a field and look for unit codes in it: the code shape is a known unit's letter
  prefix followed by digits, in any case, with blanks or a dash between them or not, with text around it
  (``"Ref: pu 00123 / site"`` names ``PU00123``).
* Every document rule is evaluated. Two different units named anywhere -> triage with both candidates;
  a code-shaped reference naming no active unit -> triage (a supplier's explicit reference is never
  overridden by a guess); one unit -> routed, the first rule in the list that named it is recorded.
* The supplier mapping is the fallback: it speaks only when the document names no unit, and only while
  it has not expired and its unit is active.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Final, Protocol

from gateway.model import CreditNote, Invoice
from gateway.model.message import JSONObject
from gateway.model.units import ProductionUnit, SupplierMapping, unit_prefix


class RoutingRule(StrEnum):
    """The routing rules; the configured list orders them (``GATEWAY_EXPENSES__ROUTING_RULES``)."""

    BUYER_REFERENCE = "buyer-reference"
    """BT-10 buyer reference: "an identifier assigned by the Buyer used for internal routing"."""
    ORDER_REFERENCE = "order-reference"
    """BT-13 purchase order reference: the unit issues its orders with its code in the number."""
    ACCOUNTING_REFERENCE = "accounting-reference"
    """BT-19 buyer accounting reference (and BT-133 on the lines)."""
    LINE_ORDER_REFERENCE = "line-order-reference"
    """BT-132 referenced purchase order line reference of any line."""
    NOTE = "note"
    """BT-22 invoice notes."""
    SUPPLIER_MAPPING = "supplier-mapping"
    """The supplier -> unit mapping remembered when support triaged this supplier (fallback)."""


DEFAULT_RULES: Final = tuple(RoutingRule)
"""The default order: the strongest, purpose-made field first (bis-billing.md §8 recommendation)."""


class TriageReason(StrEnum):
    """How each reason :func:`route` gives for triage starts: the pages recognise the kind by it and say it
    in the reader's language (``web.triage_reasons``); the reason itself is stored and returned in English
    as before (machines read it)."""

    CONFLICT = "conflicting hints: "
    UNKNOWN_UNIT = "unknown unit code "
    INACTIVE_UNIT = "inactive unit code "
    MAPPING_EXPIRED = "no unit named; the supplier mapping to "
    MAPPING_INACTIVE = "no unit named; the supplier mapping names "
    NO_UNIT = "no unit code in the document and no supplier mapping"

    @classmethod
    def of(cls, reason: str | None) -> TriageReason | None:
        """The kind of a triage ``reason`` routing gave, None for any other text (a doubt, a routed one)."""
        return next((kind for kind in cls if (reason or "").startswith(kind.value)), None)


class RoutingOutcome(StrEnum):
    """What the decision says."""

    ROUTED = "routed"
    TRIAGE = "triage"


@dataclass(frozen=True, slots=True)
class RoutingHint:
    """A unit code found by one rule.

    Attributes:
        rule: the rule that found it.
        field: where (``BT-10``, ``BT-22``, ``BT-132 line 2`` ...).
        text: the field text it was found in.
        unit_code: the unit key named.
        known: True when it names an active unit.
    """

    rule: RoutingRule
    field: str
    text: str
    unit_code: str
    known: bool


@dataclass(frozen=True, slots=True)
class RoutingDecision:
    """The routing result, stored with the expense and shown to support.

    Attributes:
        outcome: routed or triage.
        unit_code: the unit key when routed.
        rule: the rule that decided (routed), None for triage.
        reason: one sentence for people.
        hints: every code found, in rule order (the candidates of a conflict).
    """

    outcome: RoutingOutcome
    reason: str
    unit_code: str | None = None
    rule: RoutingRule | None = None
    hints: tuple[RoutingHint, ...] = field(default=())

    def to_dict(self) -> JSONObject:
        """The JSON form stored and shown by the API."""
        return {
            "outcome": self.outcome.value,
            "unit": self.unit_code,
            "rule": self.rule.value if self.rule else None,
            "reason": self.reason,
            "candidates": [
                {
                    "rule": h.rule.value,
                    "field": h.field,
                    "text": h.text,
                    "unit": h.unit_code,
                    "known": h.known,
                }
                for h in self.hints
            ],
        }


class RoutedLine(Protocol):
    """What routing reads of a line (an ``InvoiceLine``, or its :class:`LineReferences`)."""

    @property
    def id(self) -> str: ...
    @property
    def accounting_cost(self) -> str | None: ...
    @property
    def order_line_reference(self) -> str | None: ...


class RoutedDocument(Protocol):
    """What routing reads of a document (an ``Invoice`` or ``CreditNote``, or its
    :class:`DocumentReferences`)."""

    @property
    def buyer_reference(self) -> str | None: ...
    @property
    def purchase_order_reference(self) -> str | None: ...
    @property
    def accounting_cost(self) -> str | None: ...
    @property
    def notes(self) -> Sequence[str]: ...
    @property
    def lines(self) -> Sequence[RoutedLine]: ...


@dataclass(frozen=True, slots=True)
class LineReferences:
    """The references of one line routing reads (BT-126, BT-133, BT-132)."""

    id: str
    accounting_cost: str | None
    order_line_reference: str | None

    @property
    def any(self) -> bool:
        """True when routing has something to read in this line."""
        return bool(self.accounting_cost or self.order_line_reference)


@dataclass(frozen=True, slots=True)
class DocumentReferences:
    """The fields routing reads, of a document whose model does not hold its lines (a large document read
    line by line): its header's and those of the lines that carry a reference, in document order (a line
    without one gives routing nothing to read, so leaving it out changes no decision)."""

    buyer_reference: str | None
    purchase_order_reference: str | None
    accounting_cost: str | None
    notes: tuple[str, ...]
    lines: tuple[LineReferences, ...]

    @classmethod
    def of(cls, header: Invoice | CreditNote, lines: Iterable[LineReferences]) -> DocumentReferences:
        """``header``'s references with ``lines`` instead of its own lines."""
        return cls(
            header.buyer_reference,
            header.purchase_order_reference,
            header.accounting_cost,
            header.notes,
            tuple(lines),
        )


def _fields(document: RoutedDocument, rule: RoutingRule) -> Iterable[tuple[str, str]]:
    """(field label, text) pairs a document rule reads."""
    if rule is RoutingRule.BUYER_REFERENCE and document.buyer_reference:
        yield "BT-10", document.buyer_reference
    elif rule is RoutingRule.ORDER_REFERENCE and document.purchase_order_reference:
        yield "BT-13", document.purchase_order_reference
    elif rule is RoutingRule.ACCOUNTING_REFERENCE:
        if document.accounting_cost:
            yield "BT-19", document.accounting_cost
        for line in document.lines:
            if line.accounting_cost:
                yield f"BT-133 line {line.id}", line.accounting_cost
    elif rule is RoutingRule.LINE_ORDER_REFERENCE:
        for line in document.lines:
            if line.order_line_reference:
                yield f"BT-132 line {line.id}", line.order_line_reference
    elif rule is RoutingRule.NOTE:
        for note in document.notes:
            yield "BT-22", note


def code_finder(prefixes: Iterable[str]) -> re.Pattern[str] | None:
    """A pattern finding unit codes with one of ``prefixes`` in free text; None without prefixes.

    Tolerates case, blanks, a dash or a missing dash between prefix and digits, and text around the code;
    the code must not be glued to other letters or digits (``XPU00123`` or ``PU001234`` for ``PU00123``
    name another code).
    """
    alternatives = sorted({re.escape(p) for p in prefixes if p}, key=len, reverse=True)
    if not alternatives:
        return None
    return re.compile(
        rf"(?<![A-Za-z0-9])({'|'.join(alternatives)})[\s\-_./]{{0,3}}([0-9]+)(?![0-9])", re.IGNORECASE
    )


#: Most different unit codes a document is searched for: beyond two it is a conflict whatever follows, so a
#: supplier's text naming thousands costs neither time, memory nor the size of the stored decision.
MAX_NAMED_CODES: Final = 20
#: Most hints kept of codes already named (the same code on many lines); a new code is always kept.
MAX_REPEATED_HINTS: Final = 20
#: A field text longer than this is kept as an excerpt around the code found in it.
MAX_HINT_TEXT: Final = 200
_EXCERPT_CONTEXT: Final = 80


def _matches(text: str, finder: re.Pattern[str]) -> Iterator[tuple[str, int, int]]:
    """(unit key, start, end) of each code named in ``text``, in order of appearance, without repeats."""
    seen: set[str] = set()
    for match in finder.finditer(text):
        key = match.group(1).upper() + match.group(2)
        if key not in seen:
            seen.add(key)
            yield key, match.start(), match.end()


def find_codes(text: str, finder: re.Pattern[str]) -> list[str]:
    """Unit keys named in ``text``, in order of appearance, without repeats."""
    return [key for key, _, _ in _matches(text, finder)]


def _excerpt(text: str, start: int, end: int) -> str:
    """``text``, or the part of a long one around ``text[start:end]`` (elided ends marked with ``…``)."""
    if len(text) <= MAX_HINT_TEXT:
        return text
    begin, stop = max(0, start - _EXCERPT_CONTEXT), min(len(text), end + _EXCERPT_CONTEXT)
    return ("…" if begin else "") + text[begin:stop] + ("…" if stop < len(text) else "")


def named_codes(
    document: RoutedDocument, *, prefixes: Iterable[str], rules: Sequence[RoutingRule] = DEFAULT_RULES
) -> list[tuple[RoutingRule, str, str, str]]:
    """(rule, field, text, unit key) of every unit-code-shaped reference the enabled rules find.

    Args:
        document: the received document.
        prefixes: the letter prefixes of the known unit codes.
        rules: the enabled rules, in priority order.
    """
    finder = code_finder(prefixes)
    found: list[tuple[RoutingRule, str, str, str]] = []
    if finder is None:
        return found
    codes: set[str] = set()
    repeated = 0
    for rule in rules:
        if rule is RoutingRule.SUPPLIER_MAPPING:
            continue
        for label, text in _fields(document, rule):
            for key, start, end in _matches(text, finder):
                if key in codes:
                    if repeated >= MAX_REPEATED_HINTS:
                        continue
                    repeated += 1
                elif len(codes) >= MAX_NAMED_CODES:
                    return found  # a conflict already: the rest changes nothing
                codes.add(key)
                found.append((rule, label, _excerpt(text, start, end), key))
    return found


def route(
    document: RoutedDocument,
    *,
    units: Mapping[str, ProductionUnit],
    mapping: SupplierMapping | None,
    rules: Sequence[RoutingRule] = DEFAULT_RULES,
    at: datetime,
    prefixes: Iterable[str] | None = None,
) -> RoutingDecision:
    """Choose the production unit of a received document.

    Args:
        document: the document read from the received UBL.
        units: the production units by key: every unit, or at least those the document names and the
            mapping's (inactive ones included: naming one sends to triage).
        mapping: the supplier's remembered mapping, if any.
        rules: the enabled rules, in priority order.
        at: now (mapping expiry).
        prefixes: the code prefixes of all units, when ``units`` holds only some of them.

    Returns:
        The decision; never raises for a document's content.
    """
    active = {key for key, unit in units.items() if unit.active}
    known_prefixes = prefixes if prefixes is not None else (unit_prefix(key) for key in units)
    hints = [
        RoutingHint(rule, label, text, key, key in active)
        for rule, label, text, key in named_codes(document, prefixes=known_prefixes, rules=rules)
    ]
    named = list(dict.fromkeys(h.unit_code for h in hints))
    if len(named) > 1:
        return RoutingDecision(
            RoutingOutcome.TRIAGE,
            TriageReason.CONFLICT.value + ", ".join(_describe(h) for h in hints),
            hints=tuple(hints),
        )
    if named:
        first = hints[0]
        if not first.known:
            why = TriageReason.INACTIVE_UNIT if first.unit_code in units else TriageReason.UNKNOWN_UNIT
            return RoutingDecision(
                RoutingOutcome.TRIAGE,
                f"{why.value}{first.unit_code} in {first.field} ({first.text!r})",
                hints=tuple(hints),
            )
        return RoutingDecision(
            RoutingOutcome.ROUTED,
            f"unit code {first.unit_code} found in {first.field} ({first.text!r})",
            unit_code=first.unit_code,
            rule=first.rule,
            hints=tuple(hints),
        )
    if RoutingRule.SUPPLIER_MAPPING in rules and mapping is not None:
        if not mapping.valid_at(at):
            return RoutingDecision(
                RoutingOutcome.TRIAGE,
                f"{TriageReason.MAPPING_EXPIRED.value}{mapping.unit_code} expired on "
                f"{mapping.expires_at.date().isoformat()}",
            )
        if mapping.unit_code in active:
            return RoutingDecision(
                RoutingOutcome.ROUTED,
                f"no unit named; supplier mapped to {mapping.unit_code} by {mapping.set_by} on "
                f"{mapping.set_at.date().isoformat()}",
                unit_code=mapping.unit_code,
                rule=RoutingRule.SUPPLIER_MAPPING,
            )
        return RoutingDecision(
            RoutingOutcome.TRIAGE,
            f"{TriageReason.MAPPING_INACTIVE.value}{mapping.unit_code}, which is not an active unit",
        )
    return RoutingDecision(RoutingOutcome.TRIAGE, TriageReason.NO_UNIT.value)


def _describe(hint: RoutingHint) -> str:
    state = "" if hint.known else " (unknown)"
    return f"{hint.unit_code}{state} in {hint.field}"
