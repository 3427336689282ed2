"""What ``is_email_address`` accepts: one ``local@domain`` address, nothing after it."""

from __future__ import annotations

import pytest

from gateway.errors import InvalidIdentifier
from gateway.model.identifiers import (
    EmailReceiver,
    is_email_address,
    parse_receiver,
    parse_searched_receiver,
)


@pytest.mark.parametrize("address", ["facturen@klant.example", "a.b+c@sub.example.be", "O'Neil@x.example"])
def test_addresses_accepted(address: str) -> None:
    assert is_email_address(address)


@pytest.mark.parametrize(
    "address",
    [
        "a@klant.example\n",  # ``$`` matched before a final line break
        "a@b.example\r\n",
        "a@b.example, c@d.example",
        # What the SMTP adapter cannot give the relay (no SMTPUTF8): refused at submission, not at send time.
        "jörg@mail.example",
        "facturen@klänt.example",
        "\u0066acturen\u00a0@klant.example",
        "facturen@klant.example\u2028",
        "a\rb@klant.example",
        "facturen.klant.example",  # no @
        "x" * 65 + "@klant.example",  # a local part longer than RFC 5321 §4.5.3.1.1 allows
        "x@" + "k" * 190 + ".example",  # longer than the receiver column holds
    ],
)
def test_addresses_refused(address: str) -> None:
    assert not is_email_address(address)
    with pytest.raises(InvalidIdentifier):
        EmailReceiver(address)


def test_a_stored_receiver_accepted_before_the_ascii_rule_still_reads() -> None:
    """A document stored with a non-ASCII EM receiver must still be listed and shown (it fails at send)."""
    stored = parse_receiver("EM:jörg@mail.example", stored=True)
    assert isinstance(stored, EmailReceiver)
    assert str(stored) == "EM:jörg@mail.example"
    assert stored == parse_receiver("EM:JÖRG@mail.example", stored=True)
    with pytest.raises(InvalidIdentifier):
        parse_receiver("EM:jörg@mail.example")


def test_a_receiver_searched_for_may_be_a_stored_non_ascii_address() -> None:
    """The API's and the pages' receiver filter: documents stored before the ASCII rule are found by it."""
    searched = parse_searched_receiver(" EM:Jörg@mail.example ")
    assert searched == parse_receiver("EM:jörg@mail.example", stored=True)
    assert parse_searched_receiver("0208:0739484052") == parse_receiver("0208:0739484052")
    for text in ("EM:not an address", "EM:a@b.example, c@d.example", "EM:"):
        with pytest.raises(InvalidIdentifier):
            parse_searched_receiver(text)
