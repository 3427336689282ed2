"""The demo's local Peppol network: the environment it writes makes each AP find the other through the
development SML and SMP only (the composition root builds the sml mode from it), suppliers receive
Invoice Responses (T111) and each AP's SPID receives MLS; and ``gateway demo`` itself, end to end."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from gateway.bootstrap import build_services
from gateway.cli.demo_network import AccessPoint, DemoNetwork, demo_network
from gateway.config import Settings
from gateway.model.identifiers import (
    BIS_BILLING_PROCESS,
    BIS_CREDIT_NOTE,
    BIS_INVOICE,
    INVOICE_RESPONSE,
    INVOICE_RESPONSE_PROCESS,
    DocumentTypeID,
    ParticipantID,
    ProcessID,
)
from gateway.model.responses import MLS_DOCUMENT_TYPE, MLS_PROCESS
from gateway.services.smp_resolver import LookupResult, SMPResolver
from gateway.smp import LookupOutcome

COOPERATIVE = "0208:0739484052"
CLIENT = "9930:DE123456789"
SUPPLIER = "0208:0412345614"
INVOICE_ONLY = "0208:0442000096"


def _lookup(
    monkeypatch: pytest.MonkeyPatch, ap: AccessPoint, asked: str, document: DocumentTypeID, process: ProcessID
) -> LookupResult:
    """Ask the SML and SMP as ``ap``'s composition root would (built from the environment the demo writes)."""
    with monkeypatch.context() as env:
        for name, value in ap.env.items():
            env.setenv(name, value)
        services = build_services(Settings())
    try:
        assert isinstance(services.directory, SMPResolver)
        assert services.settings.directory.path is None  # no participant directory at all
        return asyncio.run(services.directory.lookup(ParticipantID.parse(asked), document, process))
    finally:
        services.close()


@contextmanager
def _network(tmp_path: Path) -> Iterator[DemoNetwork]:
    with demo_network(
        tmp_path / "demo",
        cooperative=COOPERATIVE,
        clients=[CLIENT, SUPPLIER],
        suppliers=[SUPPLIER],
        invoice_only=[INVOICE_ONLY],
    ) as net:
        yield net


def test_each_access_point_finds_the_other_through_the_sml_and_smp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with _network(tmp_path) as net:
        found = _lookup(monkeypatch, net.cooperative, CLIENT, BIS_INVOICE, BIS_BILLING_PROCESS)
        assert found.outcome is LookupOutcome.FOUND, found.detail
        assert found.endpoint is not None
        assert found.endpoint.url == net.partner.as4_url
        back = _lookup(monkeypatch, net.partner, COOPERATIVE, BIS_INVOICE, BIS_BILLING_PROCESS)
        assert back.endpoint is not None
        assert back.endpoint.url == net.cooperative.as4_url
        credit = _lookup(monkeypatch, net.cooperative, INVOICE_ONLY, BIS_CREDIT_NOTE, BIS_BILLING_PROCESS)
        assert credit.outcome is LookupOutcome.DOCUMENT_TYPE_NOT_SUPPORTED
        absent = _lookup(monkeypatch, net.cooperative, "0208:0442004056", BIS_INVOICE, BIS_BILLING_PROCESS)
        assert absent.outcome is LookupOutcome.NOT_REGISTERED


def test_answers_find_their_way_back_through_the_sml_and_smp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A supplier of the partner AP receives T111 there; each AP's SPID receives MLS at that AP; a client
    that is no supplier does not declare T111 (so no Invoice Response is ever queued for it)."""
    with _network(tmp_path) as net:
        t111 = _lookup(monkeypatch, net.cooperative, SUPPLIER, INVOICE_RESPONSE, INVOICE_RESPONSE_PROCESS)
        assert t111.outcome is LookupOutcome.FOUND, t111.detail
        assert t111.endpoint is not None
        assert t111.endpoint.url == net.partner.as4_url
        mls_to_partner = _lookup(monkeypatch, net.cooperative, "0242:000002", MLS_DOCUMENT_TYPE, MLS_PROCESS)
        assert mls_to_partner.endpoint is not None, mls_to_partner.detail
        assert mls_to_partner.endpoint.url == net.partner.as4_url
        mls_to_coop = _lookup(monkeypatch, net.partner, "0242:000001", MLS_DOCUMENT_TYPE, MLS_PROCESS)
        assert mls_to_coop.endpoint is not None, mls_to_coop.detail
        assert mls_to_coop.endpoint.url == net.cooperative.as4_url
        client = _lookup(monkeypatch, net.partner, CLIENT, INVOICE_RESPONSE, INVOICE_RESPONSE_PROCESS)
        assert client.outcome is LookupOutcome.DOCUMENT_TYPE_NOT_SUPPORTED


#: The demo's own bound on its waits (``--timeout``) and the test's bound on the whole run: the demo takes
#: about 20 s on an idle 2-core machine; the margin is for a loaded one.
DEMO_WAIT_SECONDS = 60
DEMO_BOUND_SECONDS = 240


@pytest.mark.slow
def test_the_demo_plays_both_sides_and_every_answer_comes_back(tmp_path: Path) -> None:
    """``gateway demo`` (what ``make demo`` runs), end to end: exit code 0 and the summary it promises."""
    command = [sys.executable, "-m", "gateway.cli.main", "demo", "--workdir", str(tmp_path / "demo")]
    command += ["--timeout", str(DEMO_WAIT_SECONDS)]
    started = time.monotonic()
    # Its own session: on a timeout the demo and the gateways it started are killed together.
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    ) as process:
        try:
            out, _ = process.communicate(timeout=DEMO_BOUND_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            out, _ = process.communicate()
            pytest.fail(f"the demo ran longer than {DEMO_BOUND_SECONDS} s:\n{out[-6000:]}")
    elapsed = time.monotonic() - started
    assert process.returncode == 0, out[-6000:]
    assert "demo: every check passed" in out
    lines = out.splitlines()

    def line(*parts: str) -> str:
        found = [text for text in lines if all(part in text for part in parts)]
        assert found, f"no line with {parts} in:\n{out[-6000:]}"
        return found[0]

    # The private person (no Peppol id) e-mailed to the demo's relay; the credit note failed fast.
    assert "delivered_by_email, no SML/SMP lookup" in line(
        "demo: private person", "EM:lies.vermeulen@mail.example"
    )
    assert "'Factuur 2026-0004723' in nl" in line("e-mail to lies.vermeulen@mail.example")
    assert "2026-0004723.pdf (application/pdf), 2026-0004723.xml (application/xml)" in out
    assert "14 of 14 accepted documents delivered over AS4" in line("1 e-mailed; 0 refused")
    assert "failed at once (document-type-not-supported" in line("credit note to an invoice-only client:")
    # Where the supplier documents landed: two units, the tolerated spellings, an order reference, triage.
    assert "PU04711   rule buyer-reference" in line("  SUP-2026-0001 ", "BT-10")
    assert "rule order-reference" in line("  SUP-2026-0003 ", "BT-13")
    assert "triage    unknown unit code PU09999" in line("  SUP-2026-0004 ", "PU09999")
    assert "credits SUP-2026-0003 (BT-25)" in line("  SUP-2026-C-0001 ", "BT-25")
    # The workflow as members and support, and a member refused another unit's expense.
    assert "-> approved" in line("member of PU-04711", "approve", "SUP-2026-0001")
    assert "-> paid" in line("support", "mark-paid", "SUP-2026-0001")
    assert "-> rejected" in line("member of PU-04711", "reject", "SUP-2026-0003")
    assert "-> under_query" in line("member of PU-00123", "query", "SUP-2026-0002")
    assert "-> refused 404" in line("member of PU-00123", "approve", "SUP-2026-C-0001")
    assert "to_triage 1, to_approve 1, under_query 1, rejected 1, paid 1" in line("demo: 5 expense drafts")
    # The partner AP's view: MLS and the buyer's last response attached to what it sent.
    assert "confirmed by MLS, rejected by buyer (PRI): price differs" in line("  SUP-2026-0003 ", "[T111")
    assert "confirmed by MLS, paid by buyer  [T111 AB, AP, PD]" in line("  SUP-2026-0001 ", "[T111")
    assert "under query by buyer (REF)" in line("  SUP-2026-0002 ", "[T111")
    # Left in triage (nobody assigns it in the demo): not routed to a unit, so not acknowledged (AB).
    assert "no buyer response yet  [T111 -]" in line("  SUP-2026-0004 ", "[T111")
    assert "acknowledged by buyer  [T111 AB]" in line("  SUP-2026-C-0001 ", "[T111")
    # The counts of answers, both ways: all sent, received valid, zero fatal.
    assert "14 of its 14 delivered invoices and credit notes and 8 of its 8 Invoice Responses" in out
    assert "8 sent (of 8 expected; 0 not sent), 8 received valid, 0 invalid, 0 fatal" in line("demo: T111")
    assert "5 sent (of 5 expected; 0 not sent), 5 received valid, 0 invalid, 0 fatal" in line(
        "MLS  cooperative -> partner AP"
    )
    assert "22 sent (of 22 expected; 0 not sent), 22 received valid, 0 invalid, 0 fatal" in line(
        "MLS  partner AP -> cooperative"
    )
    assert elapsed < DEMO_BOUND_SECONDS
