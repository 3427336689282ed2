"""The detail of a participant lookup and of an id that is none, in words of the page: the discovery
services and ``ParticipantID`` say them as English sentences (for the API and the logs); the page maps each
known shape to a code and says it in the person's language, with the values it names (URLs, names, codes).

A sentence of no known shape (a remote SMP's own words, a signature check's) stays as it came, marked as
English and as technical detail: it is evidence, not ours to reword.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class Wording:
    """One known sentence: its code, its shape (named groups: the values it names) and the page's words."""

    code: str
    shape: re.Pattern[str]
    message: str


def _wording(code: str, shape: str, message: str) -> Wording:
    return Wording(code, re.compile(shape, re.DOTALL), message)


#: The lookup's details (``services.smp_resolver``, ``services.participant_lookup``, ``gateway.smp``,
#: ``transport.directory``), most specific first.
LOOKUP_DETAILS: Final = (
    _wording("served", r"served by (?P<url>\S+)", "Served by the endpoint %(url)s."),
    _wording(
        "sml-no-entry",
        r"SML: (?P<name>\S+) does not exist \(NXDOMAIN\)",
        "The SML has no entry for this participant (%(name)s does not exist).",
    ),
    _wording(
        "sml-no-smp",
        r"SML: (?P<name>\S+) has no usable U-NAPTR record for (?P<service>\S+)"
        r" \((?P<count>\d+) NAPTR record\(s\)\)",
        "The SML entry %(name)s names no SMP: no usable U-NAPTR record for %(service)s (%(count)s NAPTR"
        " records).",
    ),
    _wording(
        "smp-unknown-participant",
        r"the SMP does not know the participant \((?P<url>\S+): HTTP 404\)",
        "The SMP does not know this participant (HTTP 404 at %(url)s).",
    ),
    _wording(
        "smp-no-metadata",
        r"the SMP has no service metadata at (?P<url>\S+) \(HTTP 404\)",
        "The SMP publishes nothing for this document (HTTP 404 at %(url)s).",
    ),
    _wording(
        "smp-redirect",
        r"the SMP answered HTTP (?P<status>\d+) for (?P<url>\S+); HTTP redirects are not followed",
        "The SMP answered HTTP %(status)s at %(url)s: redirects are not followed.",
    ),
    _wording(
        "smp-http",
        r"the SMP answered HTTP (?P<status>\d+) for (?P<url>\S+)",
        "The SMP answered HTTP %(status)s at %(url)s.",
    ),
    _wording(
        "process-not-offered",
        r"(?P<participant>\S+) accepts (?P<document>\S+) only in process\(es\) (?P<offered>.+),"
        r" not (?P<process>\S+)",
        "The participant accepts this document only in the process(es) %(offered)s, not in %(process)s.",
    ),
    _wording(
        "no-endpoint",
        r"(?P<participant>\S+) has no (?P<profile>\S+) endpoint for (?P<process>\S+)"
        r" \(profiles: (?P<offered>.*)\)",
        "The participant has no %(profile)s endpoint for the process %(process)s (profiles offered:"
        " %(offered)s).",
    ),
    _wording(
        "endpoint-not-active",
        r"the (?P<profile>\S+) endpoint of (?P<participant>\S+) is not active at (?P<at>\S+)"
        r" \((?P<spans>.*)\)",
        "The participant's %(profile)s endpoint is not active at %(at)s (active from .. until: %(spans)s).",
    ),
    _wording(
        "directory-unknown",
        r"participant (?P<participant>\S+) is not in the participant directory",
        "The participant %(participant)s is not in this gateway's participant directory.",
    ),
    _wording(
        "directory-no-endpoint",
        r"participant (?P<participant>\S+) has no endpoint for document type (?P<document>\S+) and process"
        r" (?P<process>\S+)",
        "The participant directory lists no endpoint of %(participant)s for this document in the process"
        " %(process)s.",
    ),
)

#: Why a typed text is no participant id (``ParticipantID.parse``).
ID_DETAILS: Final = (
    _wording(
        "not-four-digits",
        r"participant scheme code (?P<icd>.*) is not 4 digits",
        "The scheme code before the colon, %(icd)s, is not 4 digits (e.g. 0208 for a KBO/BCE number).",
    ),
    _wording(
        "bad-value",
        r"participant value (?P<value>.*) is empty, too long or padded",
        "The part after the colon is empty, longer than 130 characters or has spaces around it.",
    ),
    _wording(
        "control-character",
        r"participant value (?P<value>.*) contains a control character",
        "The part after the colon holds a control character.",
    ),
    _wording(
        "unknown-scheme",
        r"participant scheme (?P<scheme>.*) is not (?P<known>\S+)",
        "Before the double colon only the scheme %(known)s is known, not %(scheme)s.",
    ),
    _wording(
        "no-prefix",
        r"participant id (?P<text>.*) lacks the 'ICD:' prefix",
        "The scheme code and its colon are missing in front (e.g. 0208: for a KBO/BCE number).",
    ),
)


@dataclass(frozen=True, slots=True)
class PlainDetail:
    """A detail as the page says it: ``message`` (translated on the page, with ``values``), or the
    sentence as it came (``technical``, English) when no wording knows its shape."""

    code: str | None
    message: str | None = None
    values: dict[str, str] | None = None
    technical: str | None = None


def plain_detail(text: str | None, wordings: tuple[Wording, ...] = LOOKUP_DETAILS) -> PlainDetail | None:
    """The page's words for ``text``; None for no text."""
    if not text:
        return None
    for wording in wordings:
        found = wording.shape.fullmatch(text.strip())
        if found is not None:
            return PlainDetail(wording.code, wording.message, found.groupdict())
    return PlainDetail(None, technical=text)
