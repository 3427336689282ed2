"""Every Invoice Response (T111) and MLS the gateway can build validates with zero fatal findings under the
ApplicationResponse XSD and the official T111 / MLS 1.0.1 XSLTs; the official examples read back."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from gateway.model.identifiers import ParticipantID
from gateway.model.responses import (
    InvoiceResponse,
    MessageLevelStatus,
    MLSCode,
    MLSIssue,
    MLSReason,
    ResponseCode,
    ResponseParty,
    StatusAction,
    StatusReason,
    spid_participant,
)
from gateway.ubl.application_response import (
    ResponseKind,
    build_invoice_response,
    build_mls,
    read_application_response,
)
from gateway.validation import Layer, ValidationEngine

T111 = "peppol-invoice-response-3-t111"
MLS = "peppol-mls-1.0.1"
AT = datetime(2026, 12, 4, 10, 30, tzinfo=UTC)
BUYER = ResponseParty(ParticipantID("0208", "0739484052"), "Coopérative agricole")
SELLER = ResponseParty(ParticipantID("0208", "0123456749"), "Supplier SA")


def _t111(code: ResponseCode, **kw: object) -> InvoiceResponse:
    return InvoiceResponse(
        id="IR-1", issued=AT, sender=BUYER, receiver=SELLER, code=code, document_id="INV-2026-1", **kw
    )  # type: ignore[arg-type]


def _fatal(
    engine: ValidationEngine, xml: bytes, rule_set: str, layers: frozenset[Layer] | None = None
) -> list[str]:
    report = engine.validate(xml, rule_set=rule_set, layers=layers)
    return [f"{f.rule}: {f.message}" for f in report.fatal]


# PEPPOL-T111-R004/R005: PPD only with PD (and with a reason text); every other reason with any code.
_REASONS = [r for r in StatusReason if r is not StatusReason.PARTIALLY_PAID]


@pytest.mark.parametrize("code", list(ResponseCode))
def test_every_response_code_with_every_reason_and_action_is_valid(
    validation_engine: ValidationEngine, code: ResponseCode
) -> None:
    cases: list[InvoiceResponse] = []
    if code.needs_clarification:
        cases += [_t111(code, reasons=(reason,), note=f"because {reason.value}") for reason in _REASONS]
        cases += [
            _t111(code, reasons=(StatusReason.REFERENCES_INCORRECT,), actions=(a,)) for a in StatusAction
        ]
        cases.append(_t111(code, actions=(StatusAction.PROVIDE_INFORMATION,), note="please send the PO"))
    else:
        cases.append(_t111(code))
        cases.append(_t111(code, note="noted", document_type_code="381"))
    if code is ResponseCode.PAID:
        cases.append(_t111(code, reasons=(StatusReason.PARTIALLY_PAID,), note="paid 100.00 of 250.00"))
    for response in cases:
        xml = build_invoice_response(response)
        assert _fatal(validation_engine, xml, T111) == [], (response, xml.decode())
        read = read_application_response(xml)
        assert read.kind is ResponseKind.INVOICE_RESPONSE
        assert read.code == code.value
        assert read.document_id == "INV-2026-1"
        assert read.reasons == tuple(r.value for r in response.reasons)
        assert read.actions == tuple(a.value for a in response.actions)


def test_a_clarification_code_without_a_reason_is_fatal(validation_engine: ValidationEngine) -> None:
    # The engine really runs the T111 rules: PEPPOL-T111-R001 fires on RE without a clarification code.
    xml = build_invoice_response(_t111(ResponseCode.REJECTED))
    assert any("T111" in rule for rule in _fatal(validation_engine, xml, T111))


C2 = spid_participant("000002")
C3 = spid_participant("0242:000001")


@pytest.mark.parametrize(
    "mls",
    [
        MessageLevelStatus("M-1", AT, C3, C2, MLSCode.ACKNOWLEDGED, "inst-1"),
        MessageLevelStatus("M-2", AT, C3, C2, MLSCode.ACCEPTED, "inst-1"),
        MessageLevelStatus(
            "M-3",
            AT,
            C3,
            C2,
            MLSCode.ACCEPTED,
            "inst-1",
            issues=(MLSIssue(MLSReason.BUSINESS_RULE_WARNING, "[BR-X] a warning", "/Invoice/cbc:Note"),),
        ),
        *[
            MessageLevelStatus(
                f"M-RE-{reason.value}",
                AT,
                C3,
                C2,
                MLSCode.REJECTED,
                "inst-1",
                description="Rejected due to validation errors",
                issues=(
                    MLSIssue(reason, f"failure {reason.value}"),
                    MLSIssue(MLSReason.BUSINESS_RULE_WARNING, "and a warning", "/Invoice/cbc:ID"),
                ),
            )
            for reason in MLSReason
            if reason.is_failure
        ],
    ],
    ids=lambda m: m.id,
)
def test_every_mls_code_and_reason_is_valid(
    validation_engine: ValidationEngine, mls: MessageLevelStatus
) -> None:
    xml = build_mls(mls)
    assert _fatal(validation_engine, xml, MLS) == [], xml.decode()
    read = read_application_response(xml)
    assert read.kind is ResponseKind.MLS
    assert (read.code, read.document_id, read.sender) == (mls.code.value, "inst-1", "0242:000001")
    assert read.reasons == tuple(issue.reason.value for issue in mls.issues)


def test_a_negative_mls_without_failure_is_fatal(validation_engine: ValidationEngine) -> None:
    xml = build_mls(MessageLevelStatus("M", AT, C3, C2, MLSCode.REJECTED, "inst-1", description="no"))
    assert any("SCH-MLS-2" in rule for rule in _fatal(validation_engine, xml, MLS))


def _examples(artefacts_dir: Path, folder: str) -> list[Path]:
    return sorted((artefacts_dir / folder).glob("*.xml"))


def test_official_t111_examples_validate_and_read(
    validation_engine: ValidationEngine, artefacts_dir: Path
) -> None:
    examples = _examples(artefacts_dir, "peppol-invoice-response/examples")
    assert len(examples) >= 13
    for path in examples:
        data = path.read_bytes()
        assert _fatal(validation_engine, data, T111) == [], path.name
        read = read_application_response(data)
        assert read.kind is ResponseKind.INVOICE_RESPONSE, path.name
        assert read.document_id, path.name
        assert read.code in {code.value for code in ResponseCode}, path.name


def test_official_mls_examples_validate_and_read(
    validation_engine: ValidationEngine, artefacts_dir: Path
) -> None:
    for path in _examples(artefacts_dir, "peppol-mls-1.0.1/examples"):
        data = path.read_bytes()
        # The MLS examples test the Schematron; RE3 pads its dates with blanks on purpose (not XSD-valid).
        assert _fatal(validation_engine, data, MLS, frozenset({Layer.PEPPOL})) == [], path.name
        read = read_application_response(data)
        assert read.kind is ResponseKind.MLS
        assert read.document_id == "90f14eff-3705-4869-ad3c-caae270a234e"
        if read.code == "RE":
            assert read.reasons
            assert read.texts
