"""The PDF printer: external resources are never fetched, data: URLs are."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import pytest
import segno
from pypdf import PdfReader

from gateway.render import MAX_PDF_HTML_CHARS, RenderTooLarge, html_to_pdf


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
