"""Languages of the pages (English, French, Dutch): message catalogues compiled in memory with Babel from
the ``.po`` files in ``gateway/web/locale`` (no build step; ``render.i18n.compile_catalogue``), and dates
formatted per locale (``when``: an instant in UTC; ``day``: a calendar date; ``issued``: an ISO date text
in the medium form; ``money``: an amount with its currency)."""

from __future__ import annotations

import gettext
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cache
from typing import TYPE_CHECKING, Final, NamedTuple
from urllib.parse import urlencode

from fastapi import Request

from gateway.render import DEFAULT_LANGUAGE, LANGUAGES, negotiate_language
from gateway.render.i18n import FORMAT_LOCALES, chosen_language, compile_catalogue
from gateway.web.state_labels import STATE_LABELS, received_kind

if TYPE_CHECKING:
    import jinja2

#: The cookie keeping the language chosen in the header's switcher (``gateway.web.login_routes.language``).
LANGUAGE_COOKIE: Final = "gw_lang"
#: Each language in its own words, as the switcher names it (never translated).
LANGUAGE_NAMES: Final = {"en": "English", "fr": "Français", "nl": "Nederlands"}
assert tuple(LANGUAGE_NAMES) == LANGUAGES, "the switcher names every language of the pages"


class LanguageLink(NamedTuple):
    """One language of the header's switcher."""

    code: str
    name: str
    href: str
    current: bool


def page_language(request: Request) -> str:
    """The one place the pages' language is decided: ``?lang=`` in the address (that page only), else the
    choice kept in the ``LANGUAGE_COOKIE`` (the header's switcher), else the best match of Accept-Language,
    else English. A value naming no language of ``LANGUAGES`` is passed over."""
    for explicit in (request.query_params.get("lang"), request.cookies.get(LANGUAGE_COOKIE)):
        chosen = chosen_language(explicit)
        if chosen:
            return chosen
    return negotiate_language(request.headers.get("accept-language"))


def language_links(request: Request, current: str) -> list[LanguageLink]:
    """The header's switcher: each language named in its own words, its link choosing it and coming back
    to this page (the address without ``?lang=``, which would speak over the choice; a form's answer
    comes back to the start page, as its address may take no GET)."""
    if request.method in ("GET", "HEAD"):
        kept = [(name, value) for name, value in request.query_params.multi_items() if name != "lang"]
        here = f"{request.url.path}?{urlencode(kept)}" if kept else request.url.path
    else:
        here = "/web/"
    return [
        LanguageLink(
            code, name, f"/web/language?{urlencode({'lang': code, 'next': here}, safe='/')}", code == current
        )
        for code, name in LANGUAGE_NAMES.items()
    ]


@cache
def catalogue(language: str) -> gettext.NullTranslations:
    """The compiled catalogue of ``language`` (English: the source text)."""
    return compile_catalogue("gateway.web", language)


def translate(language: str, message: str) -> str:
    """``message`` in ``language`` (unchanged when the catalogue has no translation)."""
    return catalogue(language).gettext(message)


@cache
def environment(language: str) -> jinja2.Environment:
    """The pages' Jinja2 environment in ``language``: autoescape on, strict undefined, gettext, dates.

    Jinja2 and Babel are imported here, on the first page: a process that serves no page does not load
    them (BENCHMARKS.md, *Memory, seventh pass*)."""
    import jinja2
    from babel.dates import format_date, format_datetime
    from babel.numbers import format_currency

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("gateway.web", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_translations(catalogue(language), newstyle=True)  # type: ignore[attr-defined]
    locale = FORMAT_LOCALES.get(language, FORMAT_LOCALES[DEFAULT_LANGUAGE])

    def when(value: datetime | None) -> str:
        if value is None:
            return "–"
        return format_datetime(value, "medium", tzinfo=UTC, locale=locale) + " UTC"

    def day(value: date) -> str:
        return format_date(value, "full", locale=locale)

    def money(value: Decimal | str, currency: str) -> str:
        try:
            return format_currency(Decimal(value), currency, locale=locale, decimal_quantization=False)
        except (ArithmeticError, ValueError):  # not a number, or too many digits for the pattern: as stored
            return f"{value} {currency}"

    def issued(value: str) -> str:
        try:
            return format_date(date.fromisoformat(value), "medium", locale=locale)
        except (TypeError, ValueError):  # no ISO date: as stored
            return str(value)

    env.filters["when"] = when
    env.filters["day"] = day
    env.filters["money"] = money
    env.filters["issued"] = issued
    env.globals["states"] = STATE_LABELS
    env.globals["received_kind"] = received_kind
    return env
