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
    assert lookup.servers == ((address, port),)


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


# The child process: no dnspython module may be imported by the thread running the event loop.
LOOP_IMPORTS_PROBE = """
import asyncio, sys, threading
loop_thread = []
on_loop = []

class Finder:
    def find_spec(self, fullname, path, target=None):
        if fullname.split(".")[0] == "dns" and threading.current_thread() in loop_thread:
            on_loop.append(fullname)
        return None

sys.meta_path.insert(0, Finder())
from gateway.transport.dns import DNSNaptrLookup

async def main():
    loop_thread.append(threading.current_thread())
    lookup = DNSNaptrLookup(nameservers=[sys.argv[1]], timeout=5.0)
    return await lookup.naptr(sys.argv[2])

answer = asyncio.run(main())
print(len(answer.records), "dns" in sys.modules, sorted(on_loop))
"""


def test_the_first_lookup_imports_dnspython_off_the_event_loop() -> None:
    """dnspython (about 60 modules, tens of milliseconds) is imported in a worker thread on the first
    lookup, not on the event loop that every request and delivery in flight shares; the answer is read
    without importing anything more there (its rdata class and asyncio backend are loaded with it)."""
    import subprocess
    import sys

    from gateway.devnet.sml import DevSMLServer
    from gateway.model.identifiers import ParticipantID

    with DevSMLServer() as server:
        name = server.register(ParticipantID("0208", "0000000097"), "http://127.0.0.1:1")
        run = subprocess.run(
            [sys.executable, "-c", LOOP_IMPORTS_PROBE, f"127.0.0.1:{server.port}", name],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
    assert run.stdout.split() == ["1", "True", "[]"]
