"""HTML -> PDF with WeasyPrint: the adapter that prints the rendered page.

WeasyPrint would fetch every URL the HTML names; a rendered document carries only ``data:`` URLs (the QR
code), so the fetcher refuses anything else: a hostile document cannot make the gateway reach the network
or read local files.

WeasyPrint (with Pango and its fonts) is imported on the first PDF, not with the module: about 35 MiB that
a ``gateway serve`` or ``worker`` that never prints a PDF does not carry.
"""

from __future__ import annotations

import logging

from gateway.errors import GatewayError


class RenderError(GatewayError):
    """Raised when the PDF cannot be produced from the rendered HTML."""


def html_to_pdf(html: str) -> bytes:
    """Print ``html`` (a complete page from ``render_html``) to PDF bytes, A4.

    Raises:
        RenderError: WeasyPrint failed.
    """
    import weasyprint  # here, not at the top: on the first PDF (module docstring)

    # WeasyPrint reports every layout step at INFO; one line per page is noise in the gateway's log.
    logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)
    try:
        # Only data: URLs: no http(s), file or ftp fetch, whatever the HTML names.
        fetcher = weasyprint.URLFetcher(allowed_protocols=("data",), allow_redirects=False, timeout=1)
        document = weasyprint.HTML(string=html, url_fetcher=fetcher, base_url=None)
        pdf: bytes = document.write_pdf()
    except (ValueError, OSError, RuntimeError) as exc:
        raise RenderError(f"the PDF could not be produced: {exc}") from exc
    return pdf
