"""The PDF printer: external resources are never fetched, data: URLs are."""

from __future__ import annotations

import base64
import io
import sys
from pathlib import Path

import pytest
import segno
from pypdf import PdfReader

from gateway.render import MAX_PDF_HTML_CHARS, RenderTooLarge, html_to_pdf
from gateway.render.pdf import DocumentUnprintable, PrinterUnavailable


def _images(pdf: bytes) -> int:
    return sum(len(page.images) for page in PdfReader(io.BytesIO(pdf)).pages)


def test_only_data_urls_are_fetched(tmp_path: Path) -> None:
    image = tmp_path / "secret.png"
    segno.make("secret").save(str(image), kind="png", scale=4)
    inline = "data:image/png;base64," + base64.b64encode(image.read_bytes()).decode()
    assert _images(html_to_pdf(f'<p>x</p><img src="{inline}">')) == 1
    assert _images(html_to_pdf(f'<p>x</p><img src="{image.as_uri()}">')) == 0
    # http is refused before any connection (the test guard would raise on a non-loopback connect)
    assert (
        _images(
            html_to_pdf(
                '<img src="http://203.0.113.7/x.png"><link rel=stylesheet href="https://x.test/a.css">'
            )
        )
        == 0
    )


def test_a_page_too_large_to_print_is_refused_before_weasyprint(monkeypatch: pytest.MonkeyPatch) -> None:
    """A received invoice with thousands of lines held a worker for minutes and GiBs (4,000 lines: 46 s)."""
    import weasyprint

    def no_print(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("WeasyPrint must not be asked to print it")

    monkeypatch.setattr(weasyprint, "HTML", no_print)
    page = "<p>" + "x" * MAX_PDF_HTML_CHARS + "</p>"
    with pytest.raises(RenderTooLarge, match="too large to print"):
        html_to_pdf(page)


def _printer_raising(monkeypatch: pytest.MonkeyPatch, error: BaseException) -> None:
    """WeasyPrint's own ``HTML.write_pdf`` raises ``error`` (the narrowest seam: parsing and fetching run)."""
    import weasyprint

    def write_pdf(*_args: object, **_kwargs: object) -> bytes:
        raise error

    monkeypatch.setattr(weasyprint.HTML, "write_pdf", write_pdf)


@pytest.mark.parametrize("error", [AssertionError("layout <b>Jörg</b>"), IndexError("x"), ValueError("y")])
def test_any_failure_of_the_printer_on_a_page_is_the_documents(
    monkeypatch: pytest.MonkeyPatch, error: BaseException
) -> None:
    """An AssertionError or IndexError in WeasyPrint's layout escaped as itself: a bare 500 on the API."""
    _printer_raising(monkeypatch, error)
    with pytest.raises(DocumentUnprintable, match="HTML rendering shows it") as failed:
        html_to_pdf("<p>x</p>")
    assert failed.value.__cause__ is error
    assert "Jörg" not in str(failed.value)  # the printer's message may quote the document: log only
    assert type(error).__name__ in str(failed.value)


def test_a_printer_out_of_memory_or_not_loadable_is_ours(monkeypatch: pytest.MonkeyPatch) -> None:
    _printer_raising(monkeypatch, MemoryError())
    with pytest.raises(PrinterUnavailable, match="out of memory"):
        html_to_pdf("<p>x</p>")
    monkeypatch.setitem(sys.modules, "weasyprint", None)  # import weasyprint raises ImportError
    with pytest.raises(PrinterUnavailable, match="cannot be loaded"):
        html_to_pdf("<p>x</p>")
