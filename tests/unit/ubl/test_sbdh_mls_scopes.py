"""SBDH MLS scopes (peppol-as4.md §8): written in the Type, InstanceIdentifier, Identifier order, read back
as text (an invalid MLS_TO is only a warning for the envelope; the MLS sender judges it)."""

from __future__ import annotations

from lxml import etree

from gateway.model import ParticipantID
from gateway.ubl.sbdh import SBDH_NS, parse_sbd
from tests.unit.ubl.sbd_support import wrap

UBL = (
    b'<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2">'
    b"<ID xmlns='urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2'>1</ID></Invoice>"
)


def test_mls_scopes_are_written_and_read_back() -> None:
    sbd = wrap(UBL, mls_to=ParticipantID.parse("0242:000001"), mls_type="ALWAYS_SEND")
    scopes = etree.fromstring(sbd).findall(f".//{{{SBDH_NS}}}Scope")
    mls_to = [[c.text for c in s] for s in scopes if s[0].text == "MLS_TO"]
    assert mls_to == [["MLS_TO", "0242:000001", "iso6523-actorid-upis"]]
    read = parse_sbd(sbd, max_bytes=10_000)
    assert (read.mls_to, read.mls_type) == ("0242:000001", "ALWAYS_SEND")


def test_without_mls_scopes_nothing_is_written_or_read() -> None:
    sbd = wrap(UBL)
    assert b"MLS_" not in sbd
    read = parse_sbd(sbd, max_bytes=10_000)
    assert (read.mls_to, read.mls_type) == (None, None)
