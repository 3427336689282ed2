"""``gateway render``: PDF or HTML by suffix, the language, the findings banner, exit codes."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from pypdf import PdfReader

from gateway.cli.main import build_parser, main
from gateway.config import Settings

EXAMPLE = Path("peppol-bis-billing-3.0.21") / "examples" / "base-example.xml"
#: A CEN example that breaks Peppol rules (bis-billing.md §5): the banner must show them.
PEPPOL_INVALID = Path("cen-en16931-1.3.16") / "ubl" / "examples" / "ubl-tc434-example1.xml"


def _run(argv: list[str], artefacts: Path, cache: Path) -> int:
    args = build_parser([]).parse_args(argv)
    settings = Settings.model_validate({"artefacts": {"mirror": artefacts, "cache_dir": cache}})
    code: int = args.func(args, settings)
    return code


def test_pdf_in_dutch(artefacts_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.pdf"
    code = _run(
        ["render", str(artefacts_dir / EXAMPLE), "-o", str(out), "--lang", "nl", "--no-validate"],
        artefacts_dir,
        tmp_path,
    )
    assert code == 0
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(out.read_bytes())).pages)
    assert "Te betalen bedrag" in text
    assert "1.656,25" in text


def test_html_with_the_findings_banner(artefacts_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.html"
    code = _run(
        ["render", str(artefacts_dir / PEPPOL_INVALID), "-o", str(out), "--lang", "fr"],
        artefacts_dir,
        tmp_path / "cache",
    )
    assert code == 0
    html = out.read_text()
    assert "banner-fatal" in html
    assert "PEPPOL-EN16931-R001" in html


def test_not_an_invoice_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    order = tmp_path / "order.xml"
    order.write_bytes(b'<Order xmlns="urn:oasis:names:specification:ubl:schema:xsd:Order-2"/>')
    assert main(["render", str(order), "-o", str(tmp_path / "x.pdf"), "--no-validate"]) == 2
    assert "not a UBL Invoice or CreditNote" in capsys.readouterr().err
    assert not (tmp_path / "x.pdf").exists()
