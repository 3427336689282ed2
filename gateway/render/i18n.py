"""Languages of the rendered documents (French, Dutch, English) and their message catalogues.

The catalogues are gettext ``.po`` files in ``gateway/render/locale``; they are compiled in memory on
first use (Babel), so no build step or committed ``.mo`` file is needed. English is the source language.
"""

from __future__ import annotations

import gettext
import io
import re
from functools import cache
from importlib import resources
from typing import Final

#: Supported languages, the default first.
LANGUAGES: Final = ("en", "fr", "nl")
DEFAULT_LANGUAGE: Final = "en"
#: The Babel locale used to format numbers and dates per language: Belgian conventions for French and
#: Dutch; for English an euro-area English locale (decimal point, day-month-year dates).
FORMAT_LOCALES: Final = {"en": "en_IE", "fr": "fr_BE", "nl": "nl_BE"}
#: A qvalue (RFC 9110 §12.4.2): 0 to 1 with at most three decimals.
_QVALUE: Final = re.compile(r"0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?")


def negotiate_language(accept_language: str | None = None, lang: str | None = None) -> str:
    """Pick the language: an explicit ``lang`` wins, then the best match of an Accept-Language header.

    Args:
        accept_language: an HTTP Accept-Language value (RFC 9110 §12.5.4), e.g. ``"nl-BE,nl;q=0.9,en;q=0.5"``.
            A weight that is no qvalue (RFC 9110 §12.4.2: 0 to 1, at most three decimals - not ``inf``,
            ``nan``, ``2``, ``0.9999`` or ``1e0``) counts as ``q=0``: that language is left out, as a
            sender's error must not rank it first.
        lang: an explicit choice (``fr``, ``nl``, ``en``; a region such as ``fr-BE`` is accepted).

    Returns:
        One of ``LANGUAGES``; ``DEFAULT_LANGUAGE`` when nothing matches.
    """
    chosen = chosen_language(lang)
    if chosen:
        return chosen
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                weight = value.strip()
                quality = float(weight) if _QVALUE.fullmatch(weight) else 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and quality > 0:
            ranked.append((-quality, position, primary))
    return min(ranked)[2] if ranked else DEFAULT_LANGUAGE


def chosen_language(lang: str | None) -> str | None:
    """The one of ``LANGUAGES`` an explicit choice names (``fr``, ``nl-BE``, ``en_IE``...); None if none."""
    if lang:
        primary = lang.strip().lower().replace("_", "-").split("-")[0]
        if primary in LANGUAGES:
            return primary
    return None


@cache
def translations(language: str) -> gettext.NullTranslations:
    """The compiled message catalogue of ``language`` (English and unknown languages: the source text)."""
    return compile_catalogue("gateway.render", language)


def compile_catalogue(package: str, language: str) -> gettext.NullTranslations:
    """``package``'s ``locale/<language>/LC_MESSAGES/messages.po`` compiled in memory (Babel); English and
    unknown languages: the source text. Callers cache the result."""
    if language not in LANGUAGES or language == DEFAULT_LANGUAGE:
        return gettext.NullTranslations()
    # Babel on first use: a process that renders nothing never loads it.
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    source = resources.files(package).joinpath("locale", language, "LC_MESSAGES", "messages.po")
    with source.open("rb") as po_file:
        catalog = read_po(po_file, locale=language)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)
