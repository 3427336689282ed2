"""The pages speak English, French and Dutch: every text of the templates and every fixed message has a
translation in both catalogues, and a browser asking for French or Dutch gets it."""

from __future__ import annotations

import re
from importlib import resources

import httpx
import pytest
from conftest import Site

from gateway.model.partial_payment import PAYMENT_MESSAGES
from gateway.web import account_routes
from gateway.web.app import NO_PAGE, NOT_AN_ADDRESS, ONLY_A_FORM, OTHER_METHOD
from gateway.web.downloads import PDF_BUSY, PDF_FAILED, PDF_NOT_A_DOCUMENT, PDF_TOO_LARGE
from gateway.web.ebms_codes import DISCOVERY_OUTCOMES, EBMS_ERRORS
from gateway.web.expense_routes import ACTED_MEANWHILE, DONE, TEXT_NEEDED
from gateway.web.i18n import catalogue, translate
from gateway.web.login_routes import NO_SUCH_LANGUAGE
from gateway.web.lookup_details import ID_MESSAGES, LOOKUP_MESSAGES
from gateway.web.lookup_routes import DOCUMENTS, EMAIL_ID, FOUND, NO_DISCOVERY, NOT_AN_ID, UNKNOWN_DOCUMENT
from gateway.web.network_routes import NO_REPORTER, ONLY_ADMINS, REFUSED, REMADE, REMAKE_REFUSALS
from gateway.web.pages import _ERROR_TITLES, LATER_RESPONSE_QUEUED, REPORT_REMADE_SINCE
from gateway.web.state_labels import STATE_LABELS
from gateway.web.status_reasons import REASON_LABELS
from gateway.web.triage_doubts import TRIAGE_DOUBTS
from gateway.web.triage_reasons import TRIAGE_REASONS

_ACCOUNT_ERROR = re.compile(r'AccountError\(\s*"((?:[^"\\]|\\.)*)"')
_LITERAL = re.compile(r"""_\((?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')""")


def _template_texts() -> set[str]:
    texts: set[str] = set()
    for template in resources.files("gateway.web").joinpath("templates").iterdir():
        for found in _LITERAL.finditer(template.read_text(encoding="utf-8")):
            texts.add(found.group(1) or found.group(2))
    return texts


def _account_errors() -> set[str]:
    """The messages of every ``AccountError`` raised by the account pages and checks."""
    texts: set[str] = set()
    for module in ("accounts.py", "account_routes.py"):
        source = resources.files("gateway.web").joinpath(module).read_text(encoding="utf-8")
        texts.update(_ACCOUNT_ERROR.findall(source))
    return texts


FIXED = (
    _template_texts()
    | _account_errors()
    | set(account_routes.DONE.values())
    | set(_ERROR_TITLES.values())
    | set(DONE.values())
    | PAYMENT_MESSAGES
    | set(EBMS_ERRORS.values())
    | set(DISCOVERY_OUTCOMES.values())
    | set(REASON_LABELS.values())
    | set(TRIAGE_DOUBTS.values())
    | set(TRIAGE_REASONS.values())
    | set(DOCUMENTS.values())
    | {FOUND, NO_DISCOVERY, NOT_AN_ID, EMAIL_ID, UNKNOWN_DOCUMENT}
    | set(LOOKUP_MESSAGES.values())
    | set(ID_MESSAGES.values())
    | {REMADE, ONLY_ADMINS, REFUSED, NO_REPORTER}
    | set(REMAKE_REFUSALS.values())
    | {label for labels in STATE_LABELS.values() for label in labels.values()}
    | {"The name or the password is wrong.", "Too many failed logins. Try again later."}
    | {"Only admins manage accounts."}
    | {NO_PAGE, ONLY_A_FORM, OTHER_METHOD, NOT_AN_ADDRESS}
    | {PDF_BUSY, PDF_TOO_LARGE, PDF_NOT_A_DOCUMENT, PDF_FAILED}
    | {LATER_RESPONSE_QUEUED, REPORT_REMADE_SINCE}
    | {ACTED_MEANWHILE, NO_SUCH_LANGUAGE}
    | {said for _field, said in TEXT_NEEDED.values()}
)


#: Words spelled the same in French or Dutch as in English.
IDENTICAL = {
    "Account",
    "Action",
    "Document",
    "Message",
    "Pages",
    "Detail",
    "Detail:",
    "Status",
    "SMP",
    "Invoice Response",
    "Transmissions",
    "UBL",
    "MLS",
    "support",
    "%(role)s: %(units)s",  # Dutch: the same; French: a space before the colon
}


@pytest.mark.parametrize("language", ["fr", "nl"])
def test_every_text_is_translated(language: str) -> None:
    assert len(FIXED) > 100
    missing = sorted(
        text for text in FIXED if catalogue(language).gettext(text) == text and text not in IDENTICAL
    )
    assert missing == []


def test_placeholders_survive_translation() -> None:
    for language in ("fr", "nl"):
        for text in FIXED:
            assert re.findall(r"%\(\w+\)s", translate(language, text)) == re.findall(r"%\(\w+\)s", text)


@pytest.mark.parametrize(
    ("accept", "query", "expected"),
    [
        ("fr-BE,fr;q=0.9", "", "Se connecter"),
        ("nl-BE,nl;q=0.9,en;q=0.5", "", "Inloggen"),
        ("de-DE", "", "Log in"),
        ("fr-BE", "?lang=nl", "Inloggen"),
    ],
)
def test_the_login_page_speaks_the_browsers_language(
    site: Site, accept: str, query: str, expected: str
) -> None:
    with httpx.Client(base_url=site.url) as client:
        page = client.get(f"/web/login{query}", headers={"Accept-Language": accept})
    assert page.status_code == 200
    assert f"<h1>{expected}</h1>" in page.text
    assert (
        f'<html lang="{(expected == "Log in" and "en") or ("fr" if expected == "Se connecter" else "nl")}">'
        in page.text
    )
