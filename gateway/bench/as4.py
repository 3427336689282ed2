"""``gateway bench as4``: median build+sign+encrypt and parse+verify+decrypt time per message.

Uses a throwaway development PKI and the interop kit's sample invoice (or --ubl), inflated to about
10 kB and 1 MB by repeating invoice lines. A benchmark prints figures; it is not a test.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

from gateway.as4 import build_user_message, parse_incoming
from gateway.config import Settings
from gateway.crypto import TrustStore, generate_dev_pki
from gateway.model import BIS_BILLING_PROCESS, BIS_INVOICE, ParticipantID
from gateway.ubl.sbdh import build_sbd
from gateway.xmlcore import NS, parse_xml

DEFAULT_UBL = Path(__file__).resolve().parents[2].parent / "shared" / "interop" / "samples" / "invoice.xml"


def inflate(ubl: bytes, target: int) -> bytes:
    """Repeat the first InvoiceLine until the document is at least ``target`` bytes."""
    from lxml import etree

    root = parse_xml(ubl, what="seed invoice")
    line = root.find("cac:InvoiceLine", namespaces=dict(NS))
    if line is None:
        raise ValueError("seed invoice has no cac:InvoiceLine")
    parent = line.getparent()
    assert parent is not None
    count = 0
    while len(etree.tostring(root)) < target:
        for _ in range(1 if target < 100_000 else 50):
            clone = copy.deepcopy(line)
            ident = clone.find("cbc:ID", namespaces=dict(NS))
            if ident is not None:
                ident.text = f"X{count}"
            count += 1
            parent.append(clone)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def run_bench_as4(args: argparse.Namespace, settings: Settings) -> int:
    """Print the medians per size."""
    now = datetime.now(UTC)
    pki = generate_dev_pki(now=now)
    chain = (pki.ap_ca.certificate, pki.root.certificate)
    sender = pki.aps["POP000001"].key_material(chain)
    receiver = pki.aps["POP000002"].key_material(chain)
    trust = TrustStore.from_certificates(chain)
    seed = args.ubl.read_bytes()
    print(f"{'size':>10} {'build+sign+encrypt ms':>22} {'parse+verify+decrypt ms':>24} {'body bytes':>11}")
    for target in (10_000, 1_000_000):
        ubl = inflate(seed, target)
        sbd = build_sbd(
            ubl,
            sender=ParticipantID.parse("0208:0123456749"),
            receiver=ParticipantID.parse("0088:7300010000002"),
            document_type=BIS_INVOICE,
            process=BIS_BILLING_PROCESS,
            country_c1="BE",
            instance_id="bench",
            created=now,
        )
        builds: list[float] = []
        parses: list[float] = []
        body_len = 0
        for i in range(args.repeat):
            t0 = time.perf_counter()
            out = build_user_message(
                sbd,
                sender=sender,
                receiver_certificate=receiver.certificate,
                message_id=f"b{i}@x",
                timestamp=now,
            )
            t1 = time.perf_counter()
            inc = parse_incoming(dict(out.headers), out.body, our_key=receiver, trust=trust, at=now)
            t2 = time.perf_counter()
            assert inc.sbd == sbd
            builds.append((t1 - t0) * 1000)
            parses.append((t2 - t1) * 1000)
            body_len = len(out.body)
        label = f"{len(sbd) / 1024:.0f} kB"
        print(
            f"{label:>10} {statistics.median(builds):>22.1f} "
            f"{statistics.median(parses):>24.1f} {body_len:>11}"
        )
    return 0
