"""Languages of the pages (English, French, Dutch): message catalogues compiled in memory with Babel from
the ``.po`` files in ``gateway/web/locale`` (no build step; ``render.i18n.compile_catalogue``), and dates
formatted per locale (``when``: an instant in UTC; ``day``: a calendar date; ``issued``: an ISO date text
in the medium form; ``money``: an amount with its currency)."""

from __future__ import annotations

import gettext
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cache
from typing import TYPE_CHECKING

from fastapi import Request

from gateway.render import DEFAULT_LANGUAGE, negotiate_language
from gateway.render.i18n import FORMAT_LOCALES, compile_catalogue
from gateway.web.state_labels import STATE_LABELS

if TYPE_CHECKING:
    import jinja2


def page_language(request: Request) -> str:
    """``?lang=`` if given, else the best match of Accept-Language, else English."""
    return negotiate_language(request.headers.get("accept-language"), request.query_params.get("lang"))


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
    return env
