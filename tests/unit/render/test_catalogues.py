"""Every label of the templates and code lists has a French and a Dutch translation, and they compile."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from jinja2.ext import babel_extract

from gateway.render import codes
from gateway.render.i18n import translations

PACKAGE = Path(codes.__file__).parent


def _template_messages() -> set[str]:
    found: set[str] = set()
    for template in (PACKAGE / "templates").rglob("*.html"):
        with template.open("rb") as source:
            for _line, _function, message, _comments in babel_extract(
                source, ("_", "gettext"), [], {"extensions": "jinja2.ext.i18n"}
            ):
                text = message if isinstance(message, str) else (message or (None,))[0]
                if text:  # ``_(title)`` has no literal: its msgids live in codes.py
                    found.add(text)
    return found


MESSAGES = sorted(_template_messages() | codes.ALL_LABELS)


def test_templates_use_labels() -> None:
    assert "Amount due" in MESSAGES
    assert "Standard rate" in MESSAGES


@pytest.mark.parametrize("language", ["fr", "nl"])
def test_every_label_is_translated(language: str) -> None:
    with (PACKAGE / "locale" / language / "LC_MESSAGES" / "messages.po").open("rb") as source:
        catalogue = read_po(source, locale=language)
    missing = [m for m in MESSAGES if m not in catalogue or not catalogue[m].string]
    assert missing == []


def test_catalogues_compile_at_run_time() -> None:
    assert translations("fr").gettext("Amount due") == "Montant à payer"
    assert translations("nl").gettext("Amount due") == "Te betalen bedrag"
    assert translations("en").gettext("Amount due") == "Amount due"
