"""The "can this client receive?" page (support): the lookup behind ``GET /v1/participants`` as a form, its
answer in plain words - not registered and "registered but not for this document" told apart, the access
point when found - and a form message, never a 500 or an empty answer, for what is no Peppol id."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
import pytest
from as4_support import dev_pki
from conftest import Site

from gateway.model import ParticipantID
from gateway.model.identifiers import DocumentTypeID, ProcessID
from gateway.services.ports import Endpoint
from gateway.services.smp_resolver import LookupResult
from gateway.smp import LookupOutcome

CLIENT = "0208:0123456749"
ENDPOINT = "https://ap.partner.example/as4"


@dataclass
class FakeLookup:
    """Answers by participant: not registered, invoices only, or found with an endpoint."""

    asked: list[tuple[str, str]] = field(default_factory=list)

    async def lookup(
        self, receiver: ParticipantID, document_type: DocumentTypeID, process: ProcessID
    ) -> LookupResult:
        self.asked.append((str(receiver), document_type.value))
        answer = LookupResult(
            LookupOutcome.FOUND, "", receiver, document_type, process, datetime.now(UTC), "http://smp.test"
        )
        if receiver.value != "0123456749":
            return LookupResult(
                LookupOutcome.NOT_REGISTERED,
                "no SML entry",
                receiver,
                document_type,
                process,
                answer.checked_at,
            )
        if "CreditNote" in document_type.value:
            return LookupResult(
                LookupOutcome.DOCUMENT_TYPE_NOT_SUPPORTED,
                "the SMP lists no CreditNote",
                receiver,
                document_type,
                process,
                answer.checked_at,
                "http://smp.test",
            )
        certificate = dev_pki().receiver.certificate
        return LookupResult(
            LookupOutcome.FOUND,
            "",
            receiver,
            document_type,
            process,
            answer.checked_at,
            "http://smp.test",
            Endpoint(ENDPOINT, certificate),
            cached=True,
        )


@pytest.fixture
def lookup(site: Site) -> Iterator[FakeLookup]:
    fake = FakeLookup()
    site.services.__dict__["participants"] = fake  # the cached lookup of a gateway with discovery
    yield fake
    site.services.__dict__["participants"] = None


def test_without_discovery_the_page_says_so(site: Site, login: Callable[[str], httpx.Client]) -> None:
    site.services.__dict__["participants"] = None
    support = login("sam")
    form = support.get("/web/participants")
    assert form.status_code == 200
    assert 'name="participant"' in form.text
    assert 'href="/web/participants"' in form.text  # in the staff navigation
    answer = support.get("/web/participants", params={"participant": CLIENT})
    assert answer.status_code == 503
    assert "No receiver discovery is configured" in answer.text


def test_not_registered_and_not_for_this_document_are_told_apart(
    site: Site, login: Callable[[str], httpx.Client], lookup: FakeLookup
) -> None:
    support = login("sam")
    stranger = support.get("/web/participants", params={"participant": "0208:0000000097"})
    assert stranger.status_code == 200
    assert "<strong>No.</strong>" in stranger.text
    assert "not registered in the Peppol network" in stranger.text
    assert "no SML entry" in stranger.text
    credit = support.get("/web/participants", params={"participant": CLIENT, "document": "credit-note"})
    assert "does not accept this kind of document" in credit.text
    assert "<code>document-type-not-supported</code>" in credit.text
    found = support.get("/web/participants", params={"participant": f" {CLIENT} ", "document": "invoice"})
    assert "<strong>Yes.</strong>" in found.text
    assert ENDPOINT in found.text
    assert "POP000002" in found.text  # the receiving AP's seat id, from its certificate
    assert "from the lookup cache" in found.text
    assert lookup.asked[-1][0] == CLIENT
    french = support.get(
        "/web/participants", params={"participant": CLIENT}, headers={"Accept-Language": "fr-BE"}
    )
    assert "Le destinataire peut recevoir ce document par Peppol." in french.text


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("0123456749", "This is not a Peppol participant id"),
        ("EM:anna@example.com", "An e-mail address is no Peppol id"),
        ("anna@example.com", "An e-mail address is no Peppol id"),
    ],
)
def test_what_is_no_peppol_id_gets_a_form_message(
    site: Site, login: Callable[[str], httpx.Client], lookup: FakeLookup, typed: str, message: str
) -> None:
    answer = login("sam").get("/web/participants", params={"participant": typed})
    assert answer.status_code == 422
    assert message in answer.text
    assert f'value="{typed}"' in answer.text  # what was typed stays in the form
    assert lookup.asked == []


def test_an_unknown_document_is_a_422_page_and_members_may_not_look_up(
    site: Site, login: Callable[[str], httpx.Client], lookup: FakeLookup
) -> None:
    unknown = login("sam").get("/web/participants", params={"participant": CLIENT, "document": "order"})
    assert unknown.status_code == 422
    assert "unknown document" in unknown.text
    assert login("mia").get("/web/participants", params={"participant": CLIENT}).status_code == 403
    assert lookup.asked == []
