"""The in-process half of ``gateway bench large``: each step a large document takes, run alone in this
process, with the peak memory it adds. Where the per-process figures of the loopback run come from.

Steps: wrap in an SBD (sender worker), build the AS4 message (sender worker), receive it (receiver's
``/as4``), validate the business document (sender's submit and receiver). Per step: growth of the peak
resident size (``VmHWM`` after a reset, so native memory such as lxml trees and Saxon counts) and the
peak of Python objects (tracemalloc), both against the document size.
"""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from gateway.as4 import build_user_message, parse_incoming
from gateway.bootstrap import build_validation_engine
from gateway.config import Settings
from gateway.crypto import TrustStore, generate_dev_pki
from gateway.model import BIS_BILLING_PROCESS, BIS_INVOICE, ParticipantID
from gateway.ubl.sbdh import build_sbd

MIB = 1024 * 1024
SELF = Path("/proc/self")


@dataclass(frozen=True)
class StageFigures:
    """One step: peak RSS growth and Python peak, in bytes (None where /proc is unavailable)."""

    name: str
    rss_growth: int | None
    python_peak: int


def _status(field_name: str) -> int | None:
    try:
        lines = (SELF / "status").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        if line.startswith(field_name):
            return int(line.split()[1]) * 1024
    return None


def _measure(name: str, step: Callable[[], Any]) -> tuple[StageFigures, Any]:
    gc.collect()
    try:
        (SELF / "clear_refs").write_text("5")
        before = _status("VmRSS:")
    except OSError:
        before = None
    tracemalloc.reset_peak()
    start = tracemalloc.get_traced_memory()[0]
    result = step()
    peak = tracemalloc.get_traced_memory()[1] - start
    high = _status("VmHWM:")
    growth = high - before if high is not None and before is not None else None
    return StageFigures(name, growth, peak), result


def measure_stages(ubl: bytes, settings: Settings) -> list[StageFigures]:
    """Run the four steps on ``ubl`` and return their figures (the engine is warmed up first)."""
    now = datetime.now(UTC)
    pki = generate_dev_pki(now=now)
    chain = (pki.ap_ca.certificate, pki.root.certificate)
    sender = pki.aps["POP000001"].key_material(chain)
    receiver = pki.aps["POP000002"].key_material(chain)
    trust = TrustStore.from_certificates(chain)
    engine = build_validation_engine(settings)
    engine.warm_up()
    figures: list[StageFigures] = []
    tracemalloc.start()
    try:
        wrap, sbd = _measure(
            "wrap in SBD",
            lambda: build_sbd(
                ubl,
                sender=ParticipantID.parse("0208:0739484052"),
                receiver=ParticipantID.parse("0208:0123456749"),
                document_type=BIS_INVOICE,
                process=BIS_BILLING_PROCESS,
                country_c1="BE",
                instance_id="bench-large",
                created=now,
            ),
        )
        build, out = _measure(
            "build AS4",
            partial(
                build_user_message,
                sbd,
                sender=sender,
                receiver_certificate=receiver.certificate,
                message_id="l@x",
                timestamp=now,
            ),
        )
        sbd = b""
        receive, incoming = _measure(
            "receive AS4",
            partial(parse_incoming, dict(out.headers), out.body, our_key=receiver, trust=trust, at=now),
        )
        business = incoming.sbdh.business_document
        out = incoming = None
        validate, _ = _measure("validate", partial(engine.validate, business))
        figures = [wrap, build, receive, validate]
    finally:
        tracemalloc.stop()
    return figures


def format_stages(name: str, size: int, stages: Sequence[StageFigures]) -> str:
    """One line per step."""
    cells = []
    for stage in stages:
        rss = (
            "-"
            if stage.rss_growth is None
            else f"{stage.rss_growth / MIB:.0f} MiB {stage.rss_growth / size:.1f}x"
        )
        cells.append(f"{stage.name}: {rss} (Python {stage.python_peak / MIB:.0f} MiB)")
    return f"{name:>18}  " + "; ".join(cells)
