"""The detail of a participant lookup and of an id that is none, in words of the page: the discovery
services and ``ParticipantID`` say them as English sentences (for the API and the logs) and name each
sentence's shape and values as a ``DetailCode`` (``gateway.errors``); the page says the code in the
person's language, with the values it names (URLs, names, codes).

A sentence without a code the page knows (a remote SMP's own words, a signature check's) stays as it came,
marked as English and as technical detail: it is evidence, not ours to reword.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from gateway.errors import DetailCode

#: The page's words for the codes of a lookup's detail (``services.smp_resolver``,
#: ``services.participant_lookup``, ``gateway.smp``, ``transport.directory``).
LOOKUP_MESSAGES: Final = {
    "served": "Served by the endpoint %(url)s.",
    "sml-no-entry": "The SML has no entry for this participant (%(name)s does not exist).",
    "sml-no-smp": (
        "The SML entry %(name)s names no SMP: no usable U-NAPTR record for %(service)s (%(count)s NAPTR"
        " records)."
    ),
    "smp-unknown-participant": "The SMP does not know this participant (HTTP 404 at %(url)s).",
    "smp-no-metadata": "The SMP publishes nothing for this document (HTTP 404 at %(url)s).",
    "smp-redirect": "The SMP answered HTTP %(status)s at %(url)s: redirects are not followed.",
    "smp-http": "The SMP answered HTTP %(status)s at %(url)s.",
    "process-not-offered": (
        "The participant accepts this document only in the process(es) %(offered)s, not in %(process)s."
    ),
    "no-endpoint": (
        "The participant has no %(profile)s endpoint for the process %(process)s (profiles offered:"
        " %(offered)s)."
    ),
    "endpoint-not-active": (
        "The participant's %(profile)s endpoint is not active at %(at)s (active from .. until: %(spans)s)."
    ),
    "directory-unknown": "The participant %(participant)s is not in this gateway's participant directory.",
    "directory-no-endpoint": (
        "The participant directory lists no endpoint of %(participant)s for this document in the process"
        " %(process)s."
    ),
}

#: The page's words for why a typed text is no participant id (``ParticipantID.parse``).
ID_MESSAGES: Final = {
    "not-four-digits": (
        "The scheme code before the colon, %(icd)s, is not 4 digits (e.g. 0208 for a KBO/BCE number)."
    ),
    "bad-value": "The part after the colon is empty, longer than 130 characters or has spaces around it.",
    "control-character": "The part after the colon holds a control character.",
    "unknown-scheme": "Before the double colon only the scheme %(known)s is known, not %(scheme)s.",
    "no-prefix": "The scheme code and its colon are missing in front (e.g. 0208: for a KBO/BCE number).",
}


@dataclass(frozen=True, slots=True)
class PlainDetail:
    """A detail as the page says it: ``message`` (translated on the page, with ``values``), or the
    sentence as it came (``technical``, English) when the page knows no code of it."""

    code: str | None
    message: str | None = None
    values: dict[str, str] | None = None
    technical: str | None = None


def plain_detail(
    text: str | None, code: DetailCode | None, messages: dict[str, str] = LOOKUP_MESSAGES
) -> PlainDetail | None:
    """The page's words for the detail ``text`` whose shape and values ``code`` names; None for no text."""
    if not text:
        return None
    if code is not None and code.code in messages:
        return PlainDetail(code.code, messages[code.code], dict(code.values))
    return PlainDetail(None, technical=text)
