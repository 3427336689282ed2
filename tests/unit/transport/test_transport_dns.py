"""The DNS adapter's name server entries (lookups run against the devnet SML in the integration tests)."""

from __future__ import annotations

import pytest

from gateway.errors import ConfigurationError
from gateway.transport.dns import DNSNaptrLookup


@pytest.mark.parametrize(
    ("entry", "address", "port"),
    [
        ("127.0.0.1", "127.0.0.1", 53),
        ("127.0.0.1:5354", "127.0.0.1", 5354),
        ("[::1]:5354", "::1", 5354),
        ("::1", "::1", 53),
    ],
)
def test_nameserver_entries(entry: str, address: str, port: int) -> None:
    lookup = DNSNaptrLookup(nameservers=[entry])
    (server,) = lookup._nameservers
    assert (server.address, server.port) == (address, port)


@pytest.mark.parametrize("entry", ["sml.example", "127.0.0.1:99999", "127.0.0.1:x", "[::1]:"])
def test_bad_nameserver_entries_refused(entry: str) -> None:
    with pytest.raises(ConfigurationError, match="DNS server"):
        DNSNaptrLookup(nameservers=[entry])


def test_dnspython_is_imported_on_first_use_only() -> None:
    import subprocess
    import sys

    probe = (
        "import sys\n"
        "import gateway.api.app, gateway.bootstrap.discovery\n"
        "from gateway.transport.dns import DNSNaptrLookup\n"
        "DNSNaptrLookup()\n"
        "print('dns' in sys.modules)\n"
        "DNSNaptrLookup(nameservers=['127.0.0.1'])._resolver()\n"
        "print('dns' in sys.modules)\n"
    )
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert run.stdout.split() == ["False", "True"]
