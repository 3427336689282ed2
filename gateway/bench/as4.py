"""``gateway bench as4``: build+sign+encrypt and receive (parse+verify+decrypt+decompress) time per message,
ours and the PyPI ``as4`` library's side by side in one run.

Uses a throwaway development PKI and the interop kit's sample invoice (or --ubl), inflated to about
10 kB and 1 MB by adding invoice lines whose item names, quantities and amounts vary (so the payload
compresses like a real invoice, about 6:1, not like one line repeated). Rounds alternate: one message of
ours, one of the library's, so both see the same machine load. The library runs in the interop kit's
``venv-as4`` (:mod:`gateway.bench.as4_reference`); without the kit only our figures are printed. A second
table shows the gzip level trade-off on the 1 MB document. A benchmark prints figures; it is not a test.
"""

from __future__ import annotations

import argparse
import base64
import copy
import random
import statistics
import tempfile
import time
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from gateway.as4 import GZIP_LEVEL, build_user_message, parse_incoming
from gateway.as4.compression import choose_strategy
from gateway.bench.as4_reference import As4Library, Round
from gateway.config import Settings
from gateway.crypto import TrustStore, generate_dev_pki
from gateway.model import BIS_BILLING_PROCESS, BIS_INVOICE, ParticipantID
from gateway.ubl.sbdh import build_sbd
from gateway.xmlcore import NS, parse_xml

DEFAULT_UBL = Path(__file__).resolve().parents[2].parent / "shared" / "interop" / "samples" / "invoice.xml"
#: (label, target size, how): invoice lines compress about 15:1; an embedded PDF (random bytes, base64)
#: hardly compresses, which is where gzip's level and the MIME scan over the ciphertext show.
DOCUMENTS = (("lines", 10_000), ("lines", 1_000_000), ("attachment", 1_000_000))
ORIGINAL_SENDER = ParticipantID.parse("0208:0123456749")
FINAL_RECIPIENT = ParticipantID.parse("0088:7300010000002")
_STRATEGIES = {zlib.Z_DEFAULT_STRATEGY: f"level {GZIP_LEVEL}", zlib.Z_HUFFMAN_ONLY: "Huffman-only"}
_WORDS = (
    *("bolt", "nut", "washer", "hinge", "bracket", "cable", "gland", "relay", "fuse", "socket", "panel"),
    *("sensor", "valve", "gasket", "filter", "pump", "motor", "bearing", "seal", "spring", "clamp", "hose"),
    *("fitting", "adapter", "switch", "lamp", "driver", "module", "board"),
)


def inflate(ubl: bytes, target: int, *, seed: int = 12) -> bytes:
    """Add copies of the first InvoiceLine, varied, until the document is at least ``target`` bytes."""
    from lxml import etree

    rng = random.Random(seed)
    root = parse_xml(ubl, what="seed invoice")
    ns = dict(NS)
    line = root.find("cac:InvoiceLine", namespaces=ns)
    if line is None:
        raise ValueError("seed invoice has no cac:InvoiceLine")
    parent = line.getparent()
    assert parent is not None
    count = 0
    while len(etree.tostring(root)) < target:
        for _ in range(1 if target < 100_000 else 50):
            clone = copy.deepcopy(line)
            values = {
                "cbc:ID": f"L{count}",
                "cbc:InvoicedQuantity": str(rng.randint(1, 999)),
                "cbc:LineExtensionAmount": f"{rng.uniform(1, 99999):.2f}",
                "cac:Item/cbc:Name": " ".join(rng.choices(_WORDS, k=3)) + f" {rng.getrandbits(32):08X}",
                "cac:Price/cbc:PriceAmount": f"{rng.uniform(1, 999):.2f}",
            }
            for path, text in values.items():
                element = clone.find(path, namespaces=ns)
                if element is not None:
                    element.text = text
            count += 1
            parent.append(clone)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def with_attachment(ubl: bytes, target: int, *, seed: int = 12) -> bytes:
    """Embed a PDF-like attachment (random bytes, base64) so that the document is about ``target`` bytes.

    The cac:AdditionalDocumentReference goes where UBL's sequence wants it (before cac:ProjectReference,
    cac:Signature or cac:AccountingSupplierParty), so the document stays valid BIS Billing 3.0.
    """
    from lxml import etree

    root = parse_xml(ubl, what="seed invoice")
    cac, cbc = f"{{{dict(NS)['cac']}}}", f"{{{dict(NS)['cbc']}}}"
    followers = (cac + "ProjectReference", cac + "Signature", cac + "AccountingSupplierParty")
    anchor = next((el for el in root if el.tag in followers), None)
    if anchor is None:
        raise ValueError("seed invoice has no cac:AccountingSupplierParty")
    reference = etree.Element(cac + "AdditionalDocumentReference")
    etree.SubElement(reference, cbc + "ID").text = "ATT-1"
    attachment = etree.SubElement(reference, cac + "Attachment")
    binary = etree.SubElement(
        attachment, cbc + "EmbeddedDocumentBinaryObject", mimeCode="application/pdf", filename="scan.pdf"
    )
    raw = max(0, (target - len(ubl)) * 3 // 4)
    binary.text = base64.b64encode(random.Random(seed).randbytes(raw)).decode("ascii")
    anchor.addprevious(reference)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def make_document(seed: bytes, how: str, target: int) -> bytes:
    """``inflate`` (``lines``) or ``with_attachment`` (``attachment``) the seed invoice."""
    return inflate(seed, target) if how == "lines" else with_attachment(seed, target)


@dataclass
class Figures:
    """Per-message times (ms) of one implementation for one document."""

    build: list[float] = field(default_factory=list)
    receive: list[float] = field(default_factory=list)
    body_bytes: int = 0

    def add(self, build_ms: float, receive_ms: float, body_bytes: int) -> None:
        """Record one round."""
        self.build.append(build_ms)
        self.receive.append(receive_ms)
        self.body_bytes = body_bytes


def run_bench_as4(args: argparse.Namespace, settings: Settings) -> int:
    """Print the medians per size, ours and the library's, and the gzip level table."""
    now = datetime.now(UTC)
    pki = generate_dev_pki(now=now)
    chain = (pki.ap_ca.certificate, pki.root.certificate)
    sender = pki.aps["POP000001"].key_material(chain)
    receiver = pki.aps["POP000002"].key_material(chain)
    trust = TrustStore.from_certificates(chain)
    seed = args.ubl.read_bytes()
    documents = [make_document(seed, how, target) for how, target in DOCUMENTS]
    sbds = [
        build_sbd(
            ubl,
            sender=ORIGINAL_SENDER,
            receiver=FINAL_RECIPIENT,
            document_type=BIS_INVOICE,
            process=BIS_BILLING_PROCESS,
            country_c1="BE",
            instance_id="bench",
            created=now,
        )
        for ubl in documents
    ]
    ours = [Figures() for _ in DOCUMENTS]
    theirs = [Figures() for _ in DOCUMENTS]
    with tempfile.TemporaryDirectory(prefix="bench-as4-") as tmp:
        library: As4Library | None = None
        if not args.no_reference:
            try:
                library = As4Library(
                    Path(tmp),
                    pki,
                    documents,
                    original_sender=str(ORIGINAL_SENDER),
                    final_recipient=str(FINAL_RECIPIENT),
                    document_type=BIS_INVOICE.value,
                    process=BIS_BILLING_PROCESS.value,
                )
            except FileNotFoundError as exc:
                print(f"as4 library not available: {exc}; our figures only")
        for i in range(args.repeat):
            for n, sbd in enumerate(sbds):
                t0 = time.perf_counter()
                out = build_user_message(
                    sbd, sender=sender, receiver_certificate=receiver.certificate, message_id=f"b{i}@x",
                    timestamp=now,
                )  # fmt: skip
                t1 = time.perf_counter()
                inc = parse_incoming(dict(out.headers), out.body, our_key=receiver, trust=trust, at=now)
                t2 = time.perf_counter()
                assert inc.sbd == sbd
                ours[n].add((t1 - t0) * 1000, (t2 - t1) * 1000, len(out.body))
                if library is not None:
                    r: Round = library.round(n)
                    theirs[n].add(r.build_ms, r.receive_ms, r.body_bytes)
        if library is not None:
            library.__exit__(None, None, None)
    _print_table(sbds, ours, theirs if library is not None else None)
    for n, sbd in enumerate(sbds[1:], start=1):
        _print_gzip_levels(sbd, DOCUMENTS[n][0])
    return 0


def _ratio(theirs: list[float], ours: list[float]) -> str:
    return f"{statistics.median(theirs) / statistics.median(ours):.2f}x"


def _print_table(sbds: list[bytes], ours: list[Figures], theirs: list[Figures] | None) -> None:
    rounds = len(ours[0].build)
    print(f"medians of {rounds} rounds, ms per message; ratio = as4 library / ours (>1: we are cheaper)")
    head = f"{'SBD':>18} {'build ours':>11} {'as4 lib':>8} {'ratio':>6} {'receive ours':>13} {'as4 lib':>8}"
    print(f"{head} {'ratio':>6} {'body ours':>10} {'as4 lib':>8}")
    for n, sbd in enumerate(sbds):
        o = ours[n]
        label = f"{len(sbd) / 1024:.0f} kB {DOCUMENTS[n][0]}"
        lib = ["-"] * 5
        if theirs is not None:
            t = theirs[n]
            lib = [
                f"{statistics.median(t.build):.1f}",
                _ratio(t.build, o.build),
                f"{statistics.median(t.receive):.1f}",
                _ratio(t.receive, o.receive),
                str(t.body_bytes),
            ]
        print(
            f"{label:>18} {statistics.median(o.build):>11.1f} {lib[0]:>8} {lib[1]:>6} "
            f"{statistics.median(o.receive):>13.1f} {lib[2]:>8} {lib[3]:>6} {o.body_bytes:>10} {lib[4]:>8}"
        )


def _print_gzip_levels(sbd: bytes, how: str, rounds: int = 5) -> None:
    ours = _STRATEGIES[choose_strategy(sbd)]
    print(f"\ngzip of the {len(sbd) / 1024:.0f} kB {how} SBD (median of {rounds}; ours chooses {ours})")
    print(f"{'level':>6} {'compress ms':>12} {'inflate ms':>11} {'bytes':>9} {'ratio':>6}")
    for level, strategy in ((1, 0), (3, 0), (6, 0), (9, 0), (1, zlib.Z_HUFFMAN_ONLY)):
        compress: list[float] = []
        inflate_ms: list[float] = []
        size = 0
        for _ in range(rounds):
            t0 = time.perf_counter()
            packer = zlib.compressobj(level, zlib.DEFLATED, 31, 8, strategy)
            packed = packer.compress(sbd) + packer.flush()
            t1 = time.perf_counter()
            zlib.decompress(packed, wbits=31)
            t2 = time.perf_counter()
            compress.append((t1 - t0) * 1000)
            inflate_ms.append((t2 - t1) * 1000)
            size = len(packed)
        name = str(level) if strategy == 0 else "huff"
        print(
            f"{name:>6} {statistics.median(compress):>12.1f} {statistics.median(inflate_ms):>11.1f} "
            f"{size:>9} {len(sbd) / size:>5.1f}:1"
        )
