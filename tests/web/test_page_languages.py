"""The network duties page and the "can this client receive?" page say everything in the person's
language, over real HTTP: a refused report remake by its code (never the reporting service's English
reason), the states of reports, transmissions and our certificate, and the details of a participant
lookup (the real local directory's answers) and of an id that is none. A detail of no known shape stays
as it came, marked as English technical detail."""

from __future__ import annotations

import html
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import httpx
import pytest
from as4_support import dev_pki
from conftest import Site, csrf_of

import gateway.store.reporting
from gateway.bootstrap import SystemClock
from gateway.errors import DetailCode, DiscoveryError, GatewayError, InvalidIdentifier
from gateway.model.identifiers import BIS_BILLING_PROCESS, BIS_CREDIT_NOTE, BIS_INVOICE, ParticipantID
from gateway.model.report import ReportKind, ReportMonth, ReportStatus, StoredReport
from gateway.services.participant_lookup import DirectoryLookup
from gateway.services.ports import Endpoint
from gateway.services.reporting import PeppolReporter, ReporterSettings
from gateway.smp.responses import SMPHTTPResponse, metadata_body, service_group_body
from gateway.smp.sml import NaptrAnswer, smp_url_from_answer
from gateway.transport.directory import DirectoryEntry, LocalDirectory
from gateway.validation import ValidationEngine
from gateway.web.lookup_details import ID_MESSAGES, LOOKUP_MESSAGES, PlainDetail, plain_detail

KEPT_ID = "00000000-0000-4000-9000-0000000000d1"
INVALID_ID = "00000000-0000-4000-9000-0000000000d2"
CLIENT = "0208:0123456749"
ENDPOINT = "https://ap.partner.example/as4"
#: The reporting service's English reason for a report stored by design (``remake_refusal``).
ENGLISH_REASON = "not sent by design (reporting disabled"


def _report(report_id: str, status: ReportStatus, month: ReportMonth) -> StoredReport:
    return StoredReport(
        id=report_id,
        month=month,
        kind=ReportKind.EUSR,
        xml=b"<kept/>",
        validation_report={"valid": status is ReportStatus.STORED, "issues": []},
        status=status,
        created_at=datetime(2025, 7, 2, tzinfo=UTC),
    )


@pytest.fixture(scope="module")
def reporter(site: Site, validation_engine: ValidationEngine) -> Iterator[None]:
    """The real reporting use case, an EUSR of June 2025 stored by design (never sent) and one of May 2025
    stored invalid (one a remake is allowed for)."""
    with site.services.store.unit_of_work() as uow:
        uow.reporting.add_report(_report(KEPT_ID, ReportStatus.STORED, ReportMonth(2025, 6)))
        uow.reporting.add_report(_report(INVALID_ID, ReportStatus.INVALID, ReportMonth(2025, 5)))
        uow.commit()
    real = PeppolReporter(
        store=site.services.store,
        validator=validation_engine,
        clock=SystemClock(),
        ids=site.services.ids,
        settings=ReporterSettings(
            reporter_seat="POP000001", sender=ParticipantID("0242", "000001"), send=False
        ),
    )
    site.services.__dict__["reporter"] = real
    yield
    site.services.__dict__.pop("reporter", None)


def _remake(client: httpx.Client, report_id: str, language: str) -> httpx.Response:
    token = csrf_of(client, "/web/network")
    return client.post(
        "/web/network/remake",
        data={"csrf_token": token, "report": report_id},
        headers={"Accept-Language": language},
    )


@pytest.mark.parametrize(
    ("language", "said"),
    [
        ("en", "This report may not be remade: it is valid and kept here, not sent by design"),
        ("fr", "Ce rapport ne peut pas être refait : il est valide et conservé ici"),
        ("nl", "Dit rapport mag niet opnieuw worden gemaakt: het is geldig en wordt hier bewaard"),
    ],
)
def test_a_remake_refused_by_the_rule_is_said_in_the_persons_language(
    reporter: None, login: Callable[[str], httpx.Client], language: str, said: str
) -> None:
    answer = _remake(login("ada"), KEPT_ID, language)
    assert answer.status_code == 409, answer.text
    assert said in html.unescape(answer.text)
    assert ENGLISH_REASON not in answer.text  # the service's own words are not the page's


def test_a_remake_another_process_made_meanwhile_is_said_by_its_code(
    reporter: None, login: Callable[[str], httpx.Client], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race of two remakes: the report's row changed between the check and the write."""
    monkeypatch.setattr(
        gateway.store.reporting.SQLReportingRepository, "replace_report", lambda *_a, **_k: False
    )
    answer = _remake(login("ada"), INVALID_ID, "nl")
    assert answer.status_code == 409, answer.text
    assert "iemand anders heeft het intussen opnieuw gemaakt" in answer.text
    assert "another process" not in answer.text


def test_the_states_on_the_network_page_are_translated(
    reporter: None, login: Callable[[str], httpx.Client]
) -> None:
    french = html.unescape(login("sam").get("/web/network", headers={"Accept-Language": "fr"}).text)
    assert '<span class="status status-stored">conservé</span>' in french
    assert '<span class="status status-invalid">non valide</span>' in french
    assert "(valide)" in french  # our certificate's state, far from its end
    dutch = login("sam").get("/web/network", headers={"Accept-Language": "nl"}).text
    assert '<span class="status status-stored">bewaard</span>' in dutch
    assert "(geldig)" in dutch


@pytest.fixture
def directory(site: Site) -> Iterator[None]:
    """The lookup of a gateway in ``directory`` mode, on a real local directory: the client accepts
    invoices only."""
    entry = DirectoryEntry(
        frozenset({BIS_INVOICE}), BIS_BILLING_PROCESS, Endpoint(ENDPOINT, dev_pki().receiver.certificate)
    )
    lookup = DirectoryLookup(
        resolver=LocalDirectory({ParticipantID.parse(CLIENT): [entry]}), trust=None, clock=SystemClock()
    )
    site.services.__dict__["participants"] = lookup
    yield
    site.services.__dict__["participants"] = None


@pytest.mark.parametrize(
    ("participant", "document", "english", "french", "dutch"),
    [
        (
            CLIENT,
            "invoice",
            f"Served by the endpoint {ENDPOINT}.",
            f"Servi par le point de terminaison {ENDPOINT}.",
            f"Bediend via het eindpunt {ENDPOINT}.",
        ),
        (
            "0208:0000000097",
            "invoice",
            "The participant 0208:0000000097 is not in this gateway's participant directory.",
            "Le participant 0208:0000000097 ne figure pas dans l'annuaire des participants",
            "De deelnemer 0208:0000000097 staat niet in de deelnemerslijst van deze gateway.",
        ),
        (
            CLIENT,
            "credit-note",
            "The participant directory lists no endpoint of 0208:0123456749 for this document in the process",
            "L'annuaire des participants ne mentionne aucun point de terminaison de 0208:0123456749",
            "De deelnemerslijst vermeldt geen eindpunt van 0208:0123456749 voor dit document",
        ),
    ],
)
def test_the_lookups_detail_is_translated(
    directory: None,
    login: Callable[[str], httpx.Client],
    participant: str,
    document: str,
    english: str,
    french: str,
    dutch: str,
) -> None:
    client = login("sam")
    for language, said in (("en", english), ("fr", french), ("nl", dutch)):
        answer = client.get(
            "/web/participants",
            params={"participant": participant, "document": document},
            headers={"Accept-Language": language},
        )
        assert answer.status_code == 200
        assert said in html.unescape(answer.text)
        assert "Technical detail" not in answer.text
    assert BIS_CREDIT_NOTE.uri not in html.unescape(answer.text)  # the service's sentence is not shown


@pytest.mark.parametrize(
    ("typed", "dutch"),
    [
        ("208:0123456749", "De schemacode vóór de dubbele punt, '208', telt geen 4 cijfers"),
        ("0208:", "Het deel na de dubbele punt is leeg"),
        ("peppol::0208:0123456749", "alleen het schema iso6523-actorid-upis bekend, niet 'peppol'"),
        ("0123456749", "De schemacode met zijn dubbele punt ontbreekt vooraan"),
    ],
)
def test_why_a_text_is_no_participant_id_is_translated(
    directory: None, login: Callable[[str], httpx.Client], typed: str, dutch: str
) -> None:
    answer = login("sam").get(
        "/web/participants", params={"participant": typed}, headers={"Accept-Language": "nl-BE"}
    )
    assert answer.status_code == 422
    text = html.unescape(answer.text)
    assert dutch in text
    for english in ("participant scheme", "participant value", "participant id", "prefix"):
        assert english not in text  # ParticipantID's own sentence


def test_a_detail_of_no_known_shape_stays_as_english_technical_detail(
    site: Site, login: Callable[[str], httpx.Client]
) -> None:
    from gateway.services.smp_resolver import LookupResult
    from gateway.smp import LookupOutcome

    class _Signature:
        async def lookup(
            self, receiver: ParticipantID, document_type: object, process: object
        ) -> LookupResult:
            return LookupResult(
                LookupOutcome.BAD_SMP_SIGNATURE,
                "digest of reference #1 does not match",
                receiver,
                BIS_INVOICE,
                BIS_BILLING_PROCESS,
                datetime.now(UTC),
            )

    site.services.__dict__["participants"] = _Signature()
    try:
        answer = login("sam").get(
            "/web/participants", params={"participant": CLIENT}, headers={"Accept-Language": "fr"}
        )
    finally:
        site.services.__dict__["participants"] = None
    text = html.unescape(answer.text)
    assert "Détail technique, en anglais :" in text
    assert '<span lang="en">digest of reference #1 does not match</span>' in text


def test_an_unknown_document_is_a_form_message_in_the_persons_language(
    directory: None, login: Callable[[str], httpx.Client]
) -> None:
    answer = login("sam").get(
        "/web/participants",
        params={"participant": CLIENT, "document": "order"},
        headers={"Accept-Language": "fr"},
    )
    assert answer.status_code == 422
    assert "Ce document est inconnu" in answer.text
    assert "expected one of" not in answer.text
    assert '<select id="document"' in answer.text  # the form, to choose again


def _raised_by(call: Callable[[], object]) -> GatewayError:
    """The discovery error or refused id that ``call`` raises."""
    with pytest.raises((DiscoveryError, InvalidIdentifier)) as raised:
        call()
    return raised.value


@pytest.mark.parametrize(
    ("call", "code", "messages"),
    [
        (
            lambda: smp_url_from_answer(NaptrAnswer("b-x.iso6523.sml.test", exists=False)),
            "sml-no-entry",
            None,
        ),
        (lambda: smp_url_from_answer(NaptrAnswer("b-x.iso6523.sml.test", exists=True)), "sml-no-smp", None),
        (
            lambda: service_group_body(SMPHTTPResponse("http://smp.test/x", 404)),
            "smp-unknown-participant",
            None,
        ),
        (
            lambda: metadata_body(SMPHTTPResponse("http://smp.test/x/services/y", 404)),
            "smp-no-metadata",
            None,
        ),
        (lambda: metadata_body(SMPHTTPResponse("http://smp.test/x", 302)), "smp-redirect", None),
        (lambda: metadata_body(SMPHTTPResponse("http://smp.test/x", 503)), "smp-http", None),
        (lambda: metadata_body(SMPHTTPResponse("http://smp.test/x", 400)), "smp-http", None),
        (
            lambda: LocalDirectory({}).lookup(ParticipantID.parse(CLIENT), BIS_INVOICE, BIS_BILLING_PROCESS),
            "directory-unknown",
            None,
        ),
        (lambda: ParticipantID.parse("208:1"), "not-four-digits", ID_MESSAGES),
        (lambda: ParticipantID.parse("0208: 1"), "bad-value", ID_MESSAGES),
        (lambda: ParticipantID.parse("0208:a\x07b"), "control-character", ID_MESSAGES),
        (lambda: ParticipantID.parse("other::0208:1"), "unknown-scheme", ID_MESSAGES),
        (lambda: ParticipantID.parse("0123456749"), "no-prefix", ID_MESSAGES),
    ],
)
def test_the_sentences_the_page_translates_name_their_code_and_values(
    call: Callable[[], object], code: str, messages: dict[str, str] | None
) -> None:
    """The real SML, SMP, directory and identifier checks name each sentence's code and every value its
    message needs; the page says the message, never the English sentence."""
    error = _raised_by(call)
    detail = plain_detail(str(error), error.detail_code, messages or LOOKUP_MESSAGES)
    assert detail is not None
    assert detail.code == code, detail
    assert detail.message is not None
    assert detail.values is not None
    assert detail.message % detail.values  # every placeholder has its value


def test_a_sentence_without_a_known_code_stays_english_technical_detail() -> None:
    assert plain_detail("digest of reference #1 does not match", None) == PlainDetail(
        None, technical="digest of reference #1 does not match"
    )
    unknown = DetailCode("not-a-code", {})
    assert plain_detail("x", unknown) == PlainDetail(None, technical="x")
    assert plain_detail("", unknown) is None
