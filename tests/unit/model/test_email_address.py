"""What ``is_email_address`` accepts: one ``local@domain`` address, nothing after it."""

from __future__ import annotations

import pytest

from gateway.errors import InvalidIdentifier
from gateway.model.identifiers import EmailReceiver, is_email_address


@pytest.mark.parametrize("address", ["facturen@klant.example", "a.b+c@sub.example.be", "O'Neil@x.example"])
def test_addresses_accepted(address: str) -> None:
    assert is_email_address(address)


@pytest.mark.parametrize(
    "address",
    [
        "a@klant.example\n",  # ``$`` matched before a final line break
        "a@b.example\r\n",
        "a@b.example, c@d.example",
    ],
)
def test_addresses_refused(address: str) -> None:
    assert not is_email_address(address)
    with pytest.raises(InvalidIdentifier):
        EmailReceiver(address)
