"""DocumentView -> HTML through the Jinja2 templates of this package (autoescape on).

One template tree serves every output: ``invoice/standalone.html`` is a complete page (the PDF is printed
from it), ``invoice/document.html`` is the fragment a web page or an e-mail includes. The templates
receive the view and a formatter, never XML.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Final

import jinja2

from gateway.render import codes
from gateway.render.epc_qr import CreditTransfer, build_payload, qr_svg_data_uri
from gateway.render.extract import read_view
from gateway.render.formatting import Formatter, payment_reference
from gateway.render.i18n import DEFAULT_LANGUAGE, FORMAT_LOCALES, LANGUAGES, translations
from gateway.render.mark_runs import shown
from gateway.render.view import DocumentView, PaymentMeans

#: UNCL 4461 codes of credit transfers, which an EPC QR code can initiate (BR-61 needs BT-84 for them).
CREDIT_TRANSFER_CODES: Final = frozenset({"30", "58", "42"})
STANDALONE_TEMPLATE: Final = "invoice/standalone.html"
FRAGMENT_TEMPLATE: Final = "invoice/document.html"
STYLESHEET_TEMPLATE: Final = "invoice/invoice.css"


@dataclass(frozen=True, slots=True)
class Finding:
    """One validation finding shown in the banner."""

    rule: str
    severity: str
    message: str


@dataclass(frozen=True, slots=True)
class ReportSummary:
    """The validation report passed by the caller (the banner shows its findings).

    Attributes:
        rule_set: the rule set the document was validated with.
        findings: every finding, fatal first.
    """

    rule_set: str | None
    findings: tuple[Finding, ...] = ()

    @property
    def fatal(self) -> tuple[Finding, ...]:
        """The findings that make the document invalid."""
        return tuple(f for f in self.findings if f.severity == "fatal")

    @classmethod
    def from_json(cls, report: Mapping[str, Any] | None) -> ReportSummary | None:
        """Read the JSON form of a validation report (``{"rule_set", "valid", "issues": [...]}``)."""
        if not report:
            return None
        issues = report.get("issues") or []
        findings = tuple(
            Finding(str(i.get("rule", "")), str(i.get("severity", "")), str(i.get("message", "")))
            for i in issues
            if isinstance(i, Mapping)
        )
        ordered = tuple(sorted(findings, key=lambda f: f.severity != "fatal"))
        rule_set = report.get("rule_set")
        return cls(rule_set=str(rule_set) if rule_set else None, findings=ordered)


@dataclass(frozen=True, slots=True)
class RenderOptions:
    """How to render a document.

    Attributes:
        language: ``en``, ``fr`` or ``nl`` (see ``negotiate_language``).
        report: the validation report; a banner lists its findings when there are any.
        attachment_url: maps an attachment index to the caller's download URL; without it the
            attachments are listed without links.
    """

    language: str = DEFAULT_LANGUAGE
    report: ReportSummary | None = None
    attachment_url: Callable[[int], str] | None = field(default=None, compare=False)


def template_loader() -> jinja2.BaseLoader:
    """The loader of this package's templates (a web app chains it to include ``invoice/document.html``)."""
    return jinja2.PackageLoader("gateway.render", "templates")


@cache
def environment(language: str) -> jinja2.Environment:
    """The Jinja2 environment for ``language``: autoescape on, strict undefined, its gettext catalogue, and
    every output cut of its overlong mark runs (``mark_runs.shown``: one place for every value shown, which
    a flood of combining marks held a PDF print for half a minute)."""
    env = jinja2.Environment(
        loader=template_loader(),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
        finalize=shown,
    )
    env.install_gettext_translations(translations(language), newstyle=True)  # type: ignore[attr-defined]
    return env


def _payment_qr(view: DocumentView, means: Sequence[PaymentMeans], reference: str) -> str | None:
    """The EPC QR code of the first credit transfer, for an invoice in euro with an amount due."""
    payable = view.totals.payable
    if view.credit_note or payable is None or payable.value is None or payable.currency != "EUR":
        return None
    transfer = next((m for m in means if m.code in CREDIT_TRANSFER_CODES and m.account_iban), None)
    if transfer is None or transfer.account_iban is None:
        return None
    beneficiary = (view.payee.name if view.payee else None) or view.seller.name or transfer.account_name
    payload = build_payload(
        CreditTransfer(
            name=beneficiary or "",
            iban=transfer.account_iban,
            amount=payable.value,
            reference=reference or None,
            bic=transfer.account_bic,
        )
    )
    return qr_svg_data_uri(payload) if payload else None


def build_context(view: DocumentView, options: RenderOptions) -> dict[str, Any]:
    """The template context of ``view``: the view, a formatter, code labels, the QR code and the banner."""
    language = options.language if options.language in LANGUAGES else DEFAULT_LANGUAGE
    belgian = view.seller.address is not None and view.seller.address.country == "BE"
    payments = [
        (
            means,
            payment_reference(
                means.payment_id,
                belgian=belgian or (means.account_iban or "").replace(" ", "").upper().startswith("BE"),
            ),
        )
        for means in view.payment_means
    ]
    first_reference = next((reference for _, reference in payments if reference), "")
    title = codes.DOCUMENT_TITLES.get(view.type_code or "") or (
        codes.DOCUMENT_TITLES["381"] if view.credit_note else codes.DOCUMENT_TITLES["380"]
    )
    return {
        "doc": view,
        "lang": language,
        "fmt": Formatter(FORMAT_LOCALES[language]),
        "codes": codes,
        "title": title,
        "payments": payments,
        "qr": _payment_qr(view, view.payment_means, first_reference),
        "report": options.report,
        "attachment_url": options.attachment_url,
    }


def render_html(view: DocumentView, options: RenderOptions | None = None) -> str:
    """Render ``view`` as a complete HTML page (the same page the PDF is printed from).

    Args:
        view: the document, from ``read_view``.
        options: language, validation report, attachment links.

    Returns:
        The HTML text (UTF-8 when encoded); every value from the document is escaped.
    """
    options = options or RenderOptions()
    context = build_context(view, options)
    return environment(context["lang"]).get_template(STANDALONE_TEMPLATE).render(context)


def render_stored(
    body: bytes, report: Mapping[str, Any] | None, *, language: str, attachment_url: Callable[[int], str]
) -> str:
    """The page of a stored document (its UBL ``body`` and validation ``report``) with its attachments at
    ``attachment_url``: what the API serves as HTML and prints as a PDF, and the pages' PDF downloads print.

    Raises:
        GatewayError: ``read_view``'s (not well-formed, not a UBL Invoice or CreditNote).
    """
    options = RenderOptions(
        language=language, report=ReportSummary.from_json(report), attachment_url=attachment_url
    )
    return render_html(read_view(body), options)


def render_fragment(view: DocumentView, options: RenderOptions | None = None) -> str:
    """The ``<article>`` of ``view`` that a web page or an e-mail embeds (styled by ``stylesheet()``)."""
    options = options or RenderOptions()
    context = build_context(view, options)
    return environment(context["lang"]).get_template(FRAGMENT_TEMPLATE).render(context)


def stylesheet() -> str:
    """The CSS of the rendered document (screen and print), for a page that embeds the fragment."""
    return environment(DEFAULT_LANGUAGE).get_template(STYLESHEET_TEMPLATE).render()
