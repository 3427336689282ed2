"""The development SML: a small DNS server on loopback answering NAPTR queries (UDP, dnspython wire format).

It speaks real DNS, so the gateway's SML adapter (``gateway.transport.dns``) is tested end to end: an
answer with the ``U``/``Meta:SMP`` record of each registered participant, NXDOMAIN for unknown names in the
zone, REFUSED outside it, and a switch to answer SERVFAIL (a failing SML, for the retryable outcome).
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Iterable
from typing import Final

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
from dns.rdtypes.IN.NAPTR import NAPTR

from gateway.model.identifiers import ParticipantID
from gateway.smp import SMP_NAPTR_SERVICE, NaptrRecord, participant_host, zone_by_name

log = logging.getLogger(__name__)

#: The zone of the local network (a reserved name: never resolvable on the Internet, RFC 6761 ``.test``).
DEVNET_ZONE: Final = "sml.devnet.test."
_TTL: Final = 60


def smp_naptr_record(smp_url: str) -> NaptrRecord:
    """The U-NAPTR record an SML publishes for a participant served by the SMP at ``smp_url``."""
    return NaptrRecord(100, 10, "U", SMP_NAPTR_SERVICE, f"!^.*$!{smp_url}!", ".")


class DevSMLServer:
    """A NAPTR-only authoritative DNS server for one zone, on a UDP socket of its own thread.

    Args:
        zone: the SML zone (default :data:`DEVNET_ZONE`).
        host: the address to bind (loopback).
        port: the UDP port; 0 = any free port (see :attr:`port` after :meth:`start`).
    """

    def __init__(self, *, zone: str = DEVNET_ZONE, host: str = "127.0.0.1", port: int = 0) -> None:
        self.zone = zone_by_name(zone)
        self._zone_name = dns.name.from_text(self.zone)
        self.host = host
        self._requested_port = port
        self._records: dict[dns.name.Name, tuple[NaptrRecord, ...]] = {}
        self._lock = threading.Lock()
        self._socket: socket.socket | None = None
        self._port: int | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        #: When True every query is answered SERVFAIL (an SML in trouble).
        self.servfail = False
        #: Number of queries answered (tests check caching with it).
        self.queries = 0

    @property
    def port(self) -> int:
        """The bound UDP port."""
        if self._port is None:
            raise RuntimeError("the SML server is not started")
        return self._port

    def register(self, participant: ParticipantID, smp_url: str) -> str:
        """Publish ``participant`` as served by the SMP at ``smp_url``; returns the DNS name."""
        return self.set_records(participant_host(participant, self.zone), [smp_naptr_record(smp_url)])

    def set_records(self, name: str, records: Iterable[NaptrRecord]) -> str:
        """Publish exactly ``records`` at ``name`` (an empty list makes the name exist without NAPTR)."""
        with self._lock:
            self._records[dns.name.from_text(name)] = tuple(records)
        return name

    def unregister(self, participant: ParticipantID) -> None:
        """Remove a participant (its name becomes NXDOMAIN)."""
        with self._lock:
            self._records.pop(dns.name.from_text(participant_host(participant, self.zone)), None)

    def start(self) -> DevSMLServer:
        """Bind and serve in a daemon thread."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind((self.host, self._requested_port))
        sock.settimeout(0.2)
        self._socket = sock
        self._port = int(sock.getsockname()[1])
        self._stop.clear()
        self._thread = threading.Thread(target=self._serve, name="devnet-sml", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._socket is not None:
            self._socket.close()
        self._thread = None

    def __enter__(self) -> DevSMLServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _serve(self) -> None:
        assert self._socket is not None
        while not self._stop.is_set():
            try:
                data, address = self._socket.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:  # closed
                return
            reply = self.answer(data)
            if reply is not None:
                self._socket.sendto(reply, address)

    def answer(self, data: bytes) -> bytes | None:
        """The wire-format reply to one query (None for undecodable input, which gets no reply)."""
        try:
            query = dns.message.from_wire(data)
        except Exception:
            return None
        self.queries += 1
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        if self.servfail or len(query.question) != 1:
            response.set_rcode(dns.rcode.SERVFAIL)
            return bytes(response.to_wire())
        question = query.question[0]
        if not question.name.is_subdomain(self._zone_name):
            response.set_rcode(dns.rcode.REFUSED)
            return bytes(response.to_wire())
        with self._lock:
            records = self._records.get(question.name)
        if records is None:
            response.set_rcode(dns.rcode.NXDOMAIN)
            return bytes(response.to_wire())
        if question.rdtype == dns.rdatatype.NAPTR and records:
            rrset = dns.rrset.RRset(question.name, dns.rdataclass.IN, dns.rdatatype.NAPTR)
            for record in records:
                rrset.add(
                    NAPTR(  # type: ignore[no-untyped-call]
                        dns.rdataclass.IN,
                        dns.rdatatype.NAPTR,
                        record.order,
                        record.preference,
                        record.flags.encode(),
                        record.service.encode(),
                        record.regexp.encode(),
                        dns.name.from_text(record.replacement),
                    ),
                    _TTL,
                )
            response.answer.append(rrset)
        return bytes(response.to_wire())
