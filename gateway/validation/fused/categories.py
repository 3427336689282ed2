"""Searches for a VAT category code the document does not hold, skipped (an exact rewrite).

The CEN root rule states most VAT-category rules (BR-AE-01 to BR-Z-04, nine categories and the
Italian ``B``) as "if the document has a category X, then ...". Each such assert searches the whole
document for tax categories of code X, often several times: ``exists(//cac:ClassifiedTaxCategory
[normalize-space(cbc:ID) = 'AE'][cac:TaxScheme/normalize-space(upper-case(cbc:ID))='VAT'])`` and the
like: about 100 searches in 88 asserts (CEN 3.0.21) on every document, each re-reading every tax
category's code. A document holds one to three categories, so almost all of them find nothing.

One map built once per run (``VARIABLE``) holds the codes that no tax category of the document has;
a search this module recognises becomes ``(if (map:contains($skip, 'X')) then () else (SEARCH))``.

Why it is exact:

* **The value.** A recognised search is a path of child and descendant steps by name (optionally
  from ``(/ubl:Invoice|/cn:CreditNote)``) with one step that selects a ``cac:TaxCategory`` or
  ``cac:ClassifiedTaxCategory`` of code X (predicate ``[normalize-space(cbc:ID) = 'X']``, or the
  step after it being ``cbc:ID[normalize-space(.) = 'X']``). Every node it returns is, or lies
  under, a tax category holding a ``cbc:ID`` whose normalised value is X. When no tax category of
  the document holds one, the search is empty, as its replacement ``()`` is. The same holds for a
  comparison ``.../cac:TaxCategory/cbc:ID = 'X'`` (true only when some such ``cbc:ID`` is exactly X),
  which becomes ``false()`` then.
* **The errors.** The predicates a recognised search may hold can raise a dynamic error: ``normalize-
  space(cbc:ID)`` of a category with two ``cbc:ID``, ``upper-case(cbc:ID)`` of a tax scheme with
  two, ``cbc:ChargeIndicator = false()`` of an indicator that is no boolean. The map is built only
  when the document holds none of those (``_SAFE``); otherwise it is empty, nothing is skipped, and
  each search raises what it raised before. A skipped search therefore raised nothing either.
* **The rest of the test** sees the same values and is left as it was, so it evaluates (and errs)
  as before.

Anything else (another predicate, a step by another axis, a function) is left unchanged. The
differential suite (tests/conformance/test_fused_differential.py) and
tests/unit/validation/fused/test_categories.py (the error cases against the unrewritten tests; that the
corpus of test_code_dispatch.py, whose fused layers are compared with the official ones on documents
holding and lacking each code, notices a map that skips a present code) check it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from lxml import etree

from gateway.validation.fused.codes import MAP_NAMESPACE
from gateway.validation.fused.skeleton import xsl
from gateway.validation.fused.xpath_text import closing_parenthesis, outside_literals

VARIABLE = "fused-category-skip"
_UBL = {
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
}
_XS = "http://www.w3.org/2001/XMLSchema"

_QNAME = r"[A-Za-z_][\w.\-]*:[A-Za-z_][\w.\-]*"
_CATEGORY = r"cac:(?:TaxCategory|ClassifiedTaxCategory)"
_CODE_VALUE = r"'([A-Z0-9]+)'"
_OF_CODE = rf"\[\s*normalize-space\(\s*cbc:ID\s*\)\s*=\s*{_CODE_VALUE}\s*\]"
_NOT_CODE = r"\[\s*normalize-space\(\s*cbc:ID\s*\)\s*!=\s*'[A-Z0-9]+'\s*\]"
_VAT = r"\[\s*cac:TaxScheme\s*/\s*normalize-space\(\s*upper-case\(\s*cbc:ID\s*\)\s*\)\s*=\s*'VAT'\s*\]"
_CHARGE = r"\[\s*cbc:ChargeIndicator\s*=\s*(?:true|false)\(\)\s*\]"
_ID_OF_CODE = rf"cbc:ID\[\s*normalize-space\(\s*\.\s*\)\s*=\s*{_CODE_VALUE}\s*\]"
_STEP = (
    rf"(?:{_CATEGORY}(?:{_OF_CODE}|{_NOT_CODE}|{_VAT})*|cac:AllowanceCharge(?:{_CHARGE})?"
    rf"|{_ID_OF_CODE}|{_QNAME})"
)
_START = rf"(?://|/|\(\s*/{_QNAME}(?:\s*\|\s*/{_QNAME})*\s*\)/)?"
_SEARCH = re.compile(rf"\s*{_START}{_STEP}(?:(?://|/){_STEP})*\s*")
#: Where a recognised search names its code: a category step's predicate, or ``cbc:ID[...]`` after one.
_MARK = re.compile(
    rf"{_CATEGORY}(?:{_VAT}|{_NOT_CODE})*{_OF_CODE}|{_CATEGORY}(?:{_VAT}|{_NOT_CODE})*/{_ID_OF_CODE}"
)
_CALL = re.compile(r"(?:exists|count|not)\(")
_NAME_CHAR = re.compile(r"[\w.\-:$@]")
#: ``PATH/cac:TaxCategory/cbc:ID = 'X'`` with plain name steps: true only when such a ``cbc:ID`` is X.
_COMPARISON = re.compile(rf"(?:(?://)?(?:{_QNAME}/)*){_CATEGORY}/cbc:ID\s*=\s*{_CODE_VALUE}")
#: No predicate of a recognised search can raise an error on the document (see the module).
_SAFE = (
    "not(//cac:TaxCategory[cbc:ID[2]] or //cac:ClassifiedTaxCategory[cbc:ID[2]]"
    " or //cac:TaxCategory/cac:TaxScheme[cbc:ID[2]] or //cac:ClassifiedTaxCategory/cac:TaxScheme[cbc:ID[2]])"
    " and (every $i in //cac:AllowanceCharge/cbc:ChargeIndicator satisfies $i castable as xs:boolean)"
)


@dataclass
class CategorySearches:
    """Rewrites the VAT-category searches of assert tests; declares the map of absent codes they read.

    Args:
        namespaces: the stylesheet's prefixes; nothing is rewritten unless ``cac`` and ``cbc`` are UBL's.
    """

    namespaces: Mapping[str, str]
    codes: set[str] = field(default_factory=set)  # the codes rewritten tests name (shared by layers)

    def rewrite(self, test: str) -> str:
        """``test`` with each recognised search guarded by the map (see the module), else unchanged."""
        if any(self.namespaces.get(prefix) != uri for prefix, uri in _UBL.items()):
            return test
        return self._comparisons(self._searches(test))

    def _searches(self, test: str) -> str:
        pieces, done = [], 0
        for index, _char, _ in outside_literals(test):
            if index < done or not _CALL.match(test, index) or _after_name(test, index):
                continue
            start = test.index("(", index) + 1
            end = closing_parenthesis(test, start)
            if end < 0 or _SEARCH.fullmatch(test, start, end) is None:
                continue
            mark = _MARK.search(test, start, end)
            if mark is None:
                continue
            code = mark.group(1) or mark.group(2)
            self.codes.add(code)
            pieces += [
                test[done:start],
                f"if (map:contains(${VARIABLE}, '{code}')) then () else ({test[start:end]})",
            ]
            done = end
        return "".join(pieces) + test[done:]

    def _comparisons(self, test: str) -> str:
        pieces, done = [], 0
        for found in _COMPARISON.finditer(test):
            before = test[: found.start()].rstrip()
            after = test[found.end() :].lstrip()
            if (
                found.start() < done
                or _in_literal(test, found.start())
                or not (before.endswith("(") or re.search(r"(?:^|\s)(?:or|and)$", before) or not before)
                or not (after.startswith(")") or re.match(r"(?:or|and)\s", after) or not after)
            ):
                continue
            code = found.group(1)
            self.codes.add(code)
            expression = found.group(0)
            pieces += [
                test[done : found.start()],
                f"(if (map:contains(${VARIABLE}, '{code}')) then false() else ({expression}))",
            ]
            done = found.end()
        return "".join(pieces) + test[done:]

    def declarations(self) -> list[etree._Element]:
        return declarations(self.codes)


def declarations(codes: set[str]) -> list[etree._Element]:
    """The global map of the ``codes`` (those the rewritten tests name) that no tax category of the
    document holds, empty when a search could raise an error; nothing when no test was rewritten."""
    if not codes:
        return []
    node = etree.Element(xsl("variable"), nsmap={"map": MAP_NAMESPACE, "xs": _XS, **_UBL})
    node.set("name", VARIABLE)
    named = ", ".join(f"'{code}'" for code in sorted(codes))
    present = "(//cac:TaxCategory/cbc:ID | //cac:ClassifiedTaxCategory/cbc:ID) ! normalize-space(.)"
    absent = f"for $c in ({named}) return (if ($present = $c) then () else map:entry($c, true()))"
    node.set(
        "select", f"if ({_SAFE}) then (let $present := {present} return map:merge({absent})) else map{{}}"
    )
    return [node]


def _after_name(text: str, index: int) -> bool:
    """Whether ``text[index]`` continues a name (``fused:exists(``, ``$count(``...), not a call's start."""
    return index > 0 and _NAME_CHAR.match(text, index - 1) is not None


def _in_literal(text: str, index: int) -> bool:
    return all(position != index for position, _, _ in outside_literals(text, 0) if position <= index)
