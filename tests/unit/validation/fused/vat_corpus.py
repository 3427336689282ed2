"""Small invoices and credit notes with every VAT category in every place (document and line allowances
and charges, tax subtotals, invoice and credit-note lines), and the documents on which a VAT-category
predicate raises (two ``cbc:ID``, two scheme ids, a charge indicator that is no boolean): the corpus the
fused generator's VAT-category rewrites are checked on (``code_dispatch``, ``categories``), with how an
outcome (findings or dynamic error) of a stylesheet is read."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from saxonche import PySaxonApiError, PySaxonProcessor

from gateway.validation.compact import read_report, split_reports
from gateway.validation.fused import ONLY_PARAMETER

RELEASE = "peppol-bis-billing-3.0.21"
LAYERS = ("CEN-EN16931-UBL.xslt", "PEPPOL-EN16931-UBL.xslt")
CATEGORIES = ("AE", "E", "G", "K", "L", "M", "O", "S", "Z")
TAX_CATEGORY = re.compile(r"(<cac:(?:Classified)?TaxCategory>\s*<cbc:ID>)([^<]*)(</cbc:ID>)")
ERROR_CODE = re.compile(r"\b([A-Z]{4}\d{4})\b")


def set_categories(document: str, code: str, which: Callable[[int], bool] = lambda _: True) -> str:
    """Every tax category's ``cbc:ID`` (the ``which``-th ones) set to ``code``."""
    count = -1

    def replace(found: re.Match[str]) -> str:
        nonlocal count
        count += 1
        return f"{found.group(1)}{code}{found.group(3)}" if which(count) else found.group(0)

    return TAX_CATEGORY.sub(replace, document)


ALLOWANCE = """<cac:AllowanceCharge>
            <cbc:ChargeIndicator>{indicator}</cbc:ChargeIndicator>
            <cbc:AllowanceChargeReason>Discount</cbc:AllowanceChargeReason>
            <cbc:Amount currencyID="EUR">10</cbc:Amount>
            <cac:TaxCategory>
                <cbc:ID>{code}</cbc:ID>{extra}
                <cac:TaxScheme>
                    <cbc:ID>VAT</cbc:ID>
                </cac:TaxScheme>
            </cac:TaxCategory>
        </cac:AllowanceCharge>
    <cac:TaxTotal>"""


def with_allowance(document: str, code: str, indicator: str = "false", extra: str = "") -> str:
    allowance = ALLOWANCE.format(indicator=indicator, code=code, extra=extra)
    return document.replace("<cac:TaxTotal>", allowance, 1)


def vat_documents(artefacts: Path) -> list[tuple[str, str]]:
    examples = artefacts / RELEASE / "examples"
    invoice = (examples / "base-example.xml").read_text(encoding="utf-8")
    credit_note = (examples / "base-creditnote-correction.xml").read_text(encoding="utf-8")
    documents = []
    for base_name, base in (("invoice", invoice), ("credit note", credit_note)):
        assert len(TAX_CATEGORY.findall(base)) >= 4
        for code in (*CATEGORIES, "X", " s ", "\n Z\t", ""):
            documents.append((f"{base_name}: all {code!r}", set_categories(base, code)))
            documents.append((f"{base_name}: lines {code!r}", set_categories(base, code, lambda n: n >= 2)))
            documents.append(
                (f"{base_name}: subtotal {code!r}", set_categories(base, code, lambda n: n == 1))
            )
            for indicator in ("false", "true", " 1 ", "0"):
                documents.append(
                    (f"{base_name}: allowance {indicator!r} {code!r}", with_allowance(base, code, indicator))
                )
        scheme = "<cac:TaxScheme>\n                    <cbc:ID>VAT</cbc:ID>"
        assert scheme in base
        documents += [
            # raising predicates: the dispatcher hands the node to the official templates
            (f"{base_name}: two cbc:ID", set_categories(base, "E</cbc:ID><cbc:ID>S", lambda n: n == 1)),
            (f"{base_name}: two line cbc:ID", set_categories(base, "Z</cbc:ID><cbc:ID>Z", lambda n: n == 2)),
            (f"{base_name}: two scheme ids", base.replace(scheme, scheme + "<cbc:ID>VAT</cbc:ID>")),
            (f"{base_name}: indicator yes", with_allowance(base, "S", "yes")),
            (f"{base_name}: indicator yes, AE", with_allowance(base, "AE", "yes")),
            (
                f"{base_name}: two indicators",
                with_allowance(base, "K", "true</cbc:ChargeIndicator><cbc:ChargeIndicator>false"),
            ),
            (
                f"{base_name}: two indicators, one not boolean",
                with_allowance(base, "K", "true</cbc:ChargeIndicator><cbc:ChargeIndicator>nope"),
            ),
            # not the VAT scheme, or two schemes
            (f"{base_name}: scheme vat", base.replace(scheme, scheme.replace("VAT", " vat "))),
            (f"{base_name}: scheme GST", base.replace(scheme, scheme.replace("VAT", "GST"))),
            (
                f"{base_name}: two schemes",
                base.replace(scheme, "<cac:TaxScheme><cbc:ID>GST</cbc:ID></cac:TaxScheme>" + scheme),
            ),
            # Peppol's exemption reason rules (told apart by upper-case(cbc:TaxExemptionReasonCode))
            *[
                (
                    f"{base_name}: exemption {reason!r}",
                    with_allowance(
                        base, "E", extra=f"<cbc:TaxExemptionReasonCode>{reason}</cbc:TaxExemptionReasonCode>"
                    ),
                )
                for reason in ("vatex-eu-g", "VATEX-EU-IC", "VATEX-EU-J", "VATEX-EU-X", " VATEX-EU-O")
            ],
            (
                f"{base_name}: two exemption reasons",
                with_allowance(
                    base,
                    "E",
                    extra="<cbc:TaxExemptionReasonCode>VATEX-EU-G</cbc:TaxExemptionReasonCode>"
                    "<cbc:TaxExemptionReasonCode>VATEX-EU-O</cbc:TaxExemptionReasonCode>",
                ),
            ),
        ]
    return documents


Outcome = object
PROCESSOR = PySaxonProcessor(license=False)


def outcome(executable: object, node: object, only: str | None = None) -> Outcome:
    try:
        if only is not None:
            executable.set_parameter(ONLY_PARAMETER, PROCESSOR.make_string_value(only))  # type: ignore[attr-defined]
        output = str(executable.transform_to_string(xdm_node=node) or "")  # type: ignore[attr-defined]
    except PySaxonApiError as exc:
        code = ERROR_CODE.search(str(exc))
        return f"dynamic error {code.group(1) if code else exc}"
    if only == "":
        return [
            [(f.id, f.flag, f.location, f.text) for f in read_report(part)] for part in split_reports(output)
        ]
    return [(f.id, f.flag, f.location, f.text) for f in read_report(output)]


def compile_stylesheet(saxon: PySaxonProcessor, stylesheet: bytes) -> object:
    return saxon.new_xslt30_processor().compile_stylesheet(stylesheet_text=stylesheet.decode())
