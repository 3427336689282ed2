"""SML: participant id -> DNS name (Peppol SML 1.3) and a NAPTR answer -> SMP base URL (U-NAPTR, RFC 4848).

Sans-IO: the DNS query itself is the adapter's job (``gateway.transport.dns``); this module computes the
name to ask for and interprets what came back.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Final
from urllib.parse import urlsplit

from gateway.model.identifiers import PARTICIPANT_SCHEME, ParticipantID
from gateway.smp.outcome import LookupOutcome

_MAX_PATTERN: Final = 256
#: Quantifiers a NAPTR pattern may hold: they multiply the backtracking (four unanchored ones take a second
#: on an SML name); "^.*$" needs one, "^([^@]+)@(.*)$" two.
_MAX_QUANTIFIERS: Final = 2
#: NAPTR records whose expression is tried (each runs in the event loop); the SML publishes one.
_MAX_CANDIDATES: Final = 8

#: The U-NAPTR service of an SMP (peppol-commons ``PeppolNaptrURLProvider.DNS_UNAPTR_SERVICE_NAME_META_SMP``).
SMP_NAPTR_SERVICE: Final = "Meta:SMP"


class SMLZone(StrEnum):
    """The DNS zones of the OpenPeppol SML (peppol-as4.md §9.1; peppol-commons ``ESML``)."""

    PRODUCTION = "participant.sml.prod.tech.peppol.org."
    TEST = "participant.sml.test.tech.peppol.org."


def zone_by_name(name: str) -> str:
    """``production`` / ``test`` -> the known zone; anything else is taken as a zone name itself.

    Returns:
        The zone, lower case, with its trailing dot.
    """
    known = {"production": SMLZone.PRODUCTION, "prod": SMLZone.PRODUCTION, "test": SMLZone.TEST}
    zone = known.get(name.strip().lower(), name.strip().lower())
    return zone if zone.endswith(".") else zone + "."


def hash_label(value: str) -> str:
    """The SML label of a participant value: ``lowercase(base32(sha256(lowercase(value))))``, no padding.

    Only the value (``0088:123abc``) is hashed, never the scheme (Peppol SML 1.3; Policy for use of
    Identifiers 4.4, POLICY 7).
    """
    digest = hashlib.sha256(value.lower().encode("utf-8")).digest()
    return base64.b32encode(digest).decode("ascii").rstrip("=").lower()


def participant_host(participant: ParticipantID, zone: str) -> str:
    """The DNS name to query for NAPTR: ``<label>.<lowercase scheme>.<zone>`` (fully qualified)."""
    return f"{hash_label(str(participant))}.{PARTICIPANT_SCHEME}.{zone_by_name(zone)}"


@dataclass(frozen=True, slots=True)
class NaptrRecord:
    """One NAPTR resource record (RFC 3403 §4.1), as the adapter read it."""

    order: int
    preference: int
    flags: str
    service: str
    regexp: str
    replacement: str = "."


@dataclass(frozen=True, slots=True)
class NaptrAnswer:
    """What DNS said about one name.

    Attributes:
        name: the name asked for.
        exists: False for NXDOMAIN.
        records: the NAPTR records (empty when the name exists without NAPTR: "NOERROR/NODATA").
    """

    name: str
    exists: bool
    records: tuple[NaptrRecord, ...] = ()


def smp_url_from_answer(answer: NaptrAnswer) -> str:
    """Pick the SMP base URL from a NAPTR answer (peppol-as4.md §9.2; RFC 4848 §2).

    Records with flag ``U`` and service ``Meta:SMP`` are tried in (order, preference) order; the first
    whose regexp yields an absolute http(s) URL wins.

    Raises:
        ParticipantNotRegistered: NXDOMAIN, no NAPTR, or no usable ``U``/``Meta:SMP`` record (permanent).
    """
    if not answer.exists:
        raise LookupOutcome.NOT_REGISTERED.error(f"SML: {answer.name} does not exist (NXDOMAIN)").coded(
            "sml-no-entry", name=answer.name
        )
    candidates = sorted(
        (
            r
            for r in answer.records
            if r.flags.upper() == "U" and r.service.lower() == SMP_NAPTR_SERVICE.lower()
        ),
        key=lambda r: (r.order, r.preference),
    )
    for record in candidates[:_MAX_CANDIDATES]:
        url = apply_naptr_regexp(record.regexp, answer.name.rstrip("."))
        if url is not None:
            return url.rstrip("/")
    raise LookupOutcome.NOT_REGISTERED.error(
        f"SML: {answer.name} has no usable U-NAPTR record for {SMP_NAPTR_SERVICE}"
        f" ({len(answer.records)} NAPTR record(s))"
    ).coded("sml-no-smp", name=answer.name, service=SMP_NAPTR_SERVICE, count=len(answer.records))


def apply_naptr_regexp(regexp: str, subject: str) -> str | None:
    """Apply a NAPTR substitution expression (RFC 3402 §3.2) to ``subject``; None if it does not apply.

    The expression is ``<d>ERE<d>replacement<d>[i]`` with any delimiter ``<d>``; ``\\1``..``\\9`` in the
    replacement are back-references. U-NAPTR (RFC 4848 §2.2) requires the result to be a URI: only an
    absolute http(s) URL is accepted.
    """
    if len(regexp) < 3:
        return None
    delim = regexp[0]
    if delim.isalnum() or delim == "\\":
        return None
    parts = re.split(r"(?<!\\)" + re.escape(delim), regexp[1:])
    if len(parts) != 3 or parts[2] not in ("", "i"):
        return None
    pattern, replacement, flags = (p.replace("\\" + delim, delim) for p in parts)
    if len(pattern) > _MAX_PATTERN or not _bounded_backtracking(pattern):
        # The expression is remote input run by Python's backtracking engine, in the event loop: a quantified
        # group ("(a+)+", "(.|..)*") can take exponential time on the 110-character SML name, many
        # quantifiers polynomial time of a high degree. SMLs publish "^.*$".
        return None
    try:
        compiled = re.compile(pattern, re.IGNORECASE if flags == "i" else 0)
    except re.error:
        return None
    match = compiled.search(subject)
    if match is None:
        return None
    try:
        result = match.expand(re.sub(r"\\([1-9])", r"\\g<\1>", replacement.replace("\\\\", "\\")))
    except (re.error, IndexError):
        return None
    try:
        parts_url = urlsplit(result)
        host = parts_url.hostname
    except ValueError:  # "Invalid IPv6 URL", a netloc invalid under NFKC normalisation
        return None
    if parts_url.scheme.lower() not in ("http", "https") or not host:
        return None
    return result


def _bounded_backtracking(pattern: str) -> bool:
    """Whether ``pattern`` quantifies no group and holds at most :data:`_MAX_QUANTIFIERS` quantifiers.

    A conservative scan: escapes and character classes are skipped, ``{`` counts as a quantifier, ``?``
    after ``(`` (a group extension) or after a quantifier (lazy) does not.
    """
    count = 0
    previous = ""
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            previous, i = "atom", i + 2
            continue
        if char == "[":
            i += 1
            if i < len(pattern) and pattern[i] == "^":
                i += 1
            if i < len(pattern) and pattern[i] == "]":  # a literal "]" first in the class
                i += 1
            while i < len(pattern) and pattern[i] != "]":
                i += 2 if pattern[i] == "\\" else 1
            previous, i = "atom", i + 1
            continue
        quantifier = char in "*+{" or (char == "?" and previous not in ("(", "quantifier"))
        if quantifier:
            if previous == ")":
                return False
            count += 1
            if count > _MAX_QUANTIFIERS:
                return False
            if char == "{":
                close = pattern.find("}", i)
                i = close if close != -1 else i
            previous = "quantifier"
        elif char in "()":
            previous = char
        elif not (char in "+?" and previous == "quantifier"):
            previous = "atom"
        i += 1
    return True
