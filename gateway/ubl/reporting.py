"""Peppol reporting XML: Transaction Statistics Report 1.0 and End User Statistics Report 1.1 (peppol-as4.md
§11), written from ``gateway.model.report`` figures; the reading side is only used to check round trips."""

from __future__ import annotations

from typing import Final

from lxml import etree

from gateway.model.identifiers import DocumentTypeID, ProcessID
from gateway.model.report import (
    EndUserStatistics,
    ReportKind,
    ReportMonth,
    TransactionStatistics,
)

TSR_NS: Final = "urn:fdc:peppol:transaction-statistics-report:1.0"
EUSR_NS: Final = "urn:fdc:peppol:end-user-statistics-report:1.1"
TSR_CUSTOMIZATION: Final = "urn:fdc:peppol.eu:edec:trns:transaction-statistics-reporting:1.0"
EUSR_CUSTOMIZATION: Final = "urn:fdc:peppol.eu:edec:trns:end-user-statistics-report:1.1"
REPORTING_PROFILE: Final = "urn:fdc:peppol.eu:edec:bis:reporting:1.0"

#: Peppol ids of the report transmissions (peppol-as4.md §11 "Transport").
REPORTING_PROCESS: Final = ProcessID(REPORTING_PROFILE)
TSR_DOCUMENT_TYPE: Final = DocumentTypeID.parse(
    f"busdox-docid-qns::{TSR_NS}::TransactionStatisticsReport##{TSR_CUSTOMIZATION}::1.0"
)
EUSR_DOCUMENT_TYPE: Final = DocumentTypeID.parse(
    f"busdox-docid-qns::{EUSR_NS}::EndUserStatisticsReport##{EUSR_CUSTOMIZATION}::1.1"
)
#: The validation rule set of each report (schemas/ubl/manifest.json).
REPORT_RULE_SETS: Final = {ReportKind.TSR: "peppol-tsr-1.0.5", ReportKind.EUSR: "peppol-eusr-1.1.5"}
REPORT_DOCUMENT_TYPES: Final = {ReportKind.TSR: TSR_DOCUMENT_TYPE, ReportKind.EUSR: EUSR_DOCUMENT_TYPE}


def _sub(parent: etree._Element, ns: str, tag: str, text: str | None = None, **attrib: str) -> etree._Element:
    element = etree.SubElement(parent, f"{{{ns}}}{tag}", attrib)
    if text is not None:
        element.text = text
    return element


def _header(root: etree._Element, ns: str, customization: str, month: ReportMonth, seat: str) -> None:
    _sub(root, ns, "CustomizationID", customization)
    _sub(root, ns, "ProfileID", REPORTING_PROFILE)
    header = _sub(root, ns, "Header")
    period = _sub(header, ns, "ReportPeriod")
    _sub(period, ns, "StartDate", month.start.isoformat())
    _sub(period, ns, "EndDate", month.end.isoformat())
    _sub(header, ns, "ReporterID", seat, schemeID="CertSubjectCN")


def _keys(parent: etree._Element, ns: str, keys: tuple[tuple[str, str, str], ...]) -> None:
    for meta, scheme, value in keys:
        _sub(parent, ns, "Key", value, metaSchemeID=meta, schemeID=scheme)


def build_tsr(stats: TransactionStatistics) -> bytes:
    """The TransactionStatisticsReport document of ``stats`` (UTF-8, with XML declaration)."""
    ns = TSR_NS
    root = etree.Element(f"{{{ns}}}TransactionStatisticsReport", nsmap={None: ns})  # type: ignore[dict-item]
    _header(root, ns, TSR_CUSTOMIZATION, stats.month, stats.reporter_seat)
    total = _sub(root, ns, "Total")
    _sub(total, ns, "Incoming", str(stats.incoming))
    _sub(total, ns, "Outgoing", str(stats.outgoing))
    for subtotal in stats.subtotals:
        element = _sub(root, ns, "Subtotal", type=subtotal.kind)
        _keys(element, ns, subtotal.keys)
        _sub(element, ns, "Incoming", str(subtotal.incoming))
        _sub(element, ns, "Outgoing", str(subtotal.outgoing))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def build_eusr(stats: EndUserStatistics) -> bytes:
    """The EndUserStatisticsReport document of ``stats`` (UTF-8, with XML declaration)."""
    ns = EUSR_NS
    root = etree.Element(f"{{{ns}}}EndUserStatisticsReport", nsmap={None: ns})  # type: ignore[dict-item]
    _header(root, ns, EUSR_CUSTOMIZATION, stats.month, stats.reporter_seat)
    full = _sub(root, ns, "FullSet")
    _sub(full, ns, "SendingEndUsers", str(stats.sending))
    _sub(full, ns, "ReceivingEndUsers", str(stats.receiving))
    _sub(full, ns, "SendingOrReceivingEndUsers", str(stats.sending_or_receiving))
    for subset in stats.subsets:
        element = _sub(root, ns, "Subset", type=subset.kind)
        _keys(element, ns, subset.keys)
        _sub(element, ns, "SendingEndUsers", str(subset.sending))
        _sub(element, ns, "ReceivingEndUsers", str(subset.receiving))
        _sub(element, ns, "SendingOrReceivingEndUsers", str(subset.sending_or_receiving))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
