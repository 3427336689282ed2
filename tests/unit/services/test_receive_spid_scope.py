"""Our Service Provider Id (``0242:…``, SPID) is where other access points send their Message Level Status:
the receiver takes MLS for it, and nothing else. An invoice addressed to the SPID was accepted, drafted as an
expense and answered with an Invoice Response whose sender was the SPID: a business document in the name of
our access point instead of the cooperative's."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from as4_support import INVOICE, NOW, SENDER, counter_ids, dev_pki

from gateway.as4 import PEPPOL_NOT_SERVICED, build_user_message
from gateway.model import INVOICE_RESPONSE, INVOICE_RESPONSE_PROCESS, ParticipantID
from gateway.model.identifiers import BIS_BILLING_PROCESS, BIS_INVOICE, DocumentTypeID, ProcessID
from gateway.model.responses import (
    MLS_DOCUMENT_TYPE,
    MLS_PROCESS,
    InvoiceResponse,
    MessageLevelStatus,
    MLSCode,
    ResponseCode,
    ResponseParty,
)
from gateway.services.receive import AS4Receiver, ReceiveOutcome
from gateway.store import SQLDocumentStore, upgrade_database
from gateway.ubl import build_sbd
from gateway.ubl.application_response import build_invoice_response, build_mls
from gateway.validation import ValidationReport

COOPERATIVE = ParticipantID.parse("0208:0739484052")
OUR_SPID = ParticipantID.parse("0242:000002")  # the receiver's seat, POP000002
THEIR_SPID = ParticipantID.parse("0242:000001")


class _Clock:
    def now(self) -> Any:
        return NOW + timedelta(minutes=1)


class _IDs:
    def __init__(self) -> None:
        self._next = counter_ids("rid")

    def new_id(self) -> str:
        return self._next()


class _Valid:
    """Every document valid (the real engine is exercised by the integration suite)."""

    def validate(
        self, data: object, *, rule_set: str | None = None, on_parsed: Any = None
    ) -> ValidationReport:
        return ValidationReport(rule_set=rule_set or "peppol-bis-billing-3.0.21", findings=())


@pytest.fixture
def store(tmp_path: Path) -> Any:
    url = f"sqlite:///{tmp_path / 'spid.db'}"
    upgrade_database(url)
    s = SQLDocumentStore.from_url(url)
    yield s
    s.close()


def _receiver(store: SQLDocumentStore, **kw: Any) -> AS4Receiver:
    p = dev_pki()
    values: dict[str, Any] = {
        "store": store,
        "validator": _Valid(),
        "identity": p.receiver,
        "trust": p.trust,
        "served": {COOPERATIVE},
        "spid": OUR_SPID,
        "clock": _Clock(),
        "ids": _IDs(),
        "rule_set": lambda: "peppol-bis-billing-3.0.21",
        "message_id_domain": "gw.test",
    }
    values.update(kw)
    return AS4Receiver(**values)


def _mls() -> bytes:
    return build_mls(
        MessageLevelStatus(
            id="mls-1",
            issued=NOW,
            sender=THEIR_SPID,
            receiver=OUR_SPID,
            code=MLSCode.ACCEPTED,
            instance_id="i-1",
        )
    )


def _post(
    receiver: AS4Receiver,
    body: bytes,
    to: ParticipantID,
    doc: DocumentTypeID,
    proc: ProcessID,
    sender: Any = SENDER,
) -> Any:
    sbd = build_sbd(
        body,
        sender=sender,
        receiver=to,
        document_type=doc,
        process=proc,
        country_c1="BE",
        instance_id=f"inst-{to}-{doc.root_name}",
        created=NOW,
    )
    p = dev_pki()
    msg = build_user_message(
        sbd,
        sender=p.sender,
        receiver_certificate=p.receiver.certificate,
        message_id=f"m-{str(to).replace(':', '-')}-{doc.root_name}@gateway.test",
        timestamp=NOW,
        new_id=counter_ids(),
    )
    return receiver.receive(tuple(msg.headers.items()), msg.body)


def _not_served(result: Any) -> bool:
    return result.outcome is ReceiveOutcome.REJECTED and PEPPOL_NOT_SERVICED.encode() in result.signal


def test_an_invoice_addressed_to_our_spid_is_not_served(store: SQLDocumentStore) -> None:
    result = _post(_receiver(store), INVOICE.read_bytes(), OUR_SPID, BIS_INVOICE, BIS_BILLING_PROCESS)
    assert _not_served(result)


def test_an_invoice_response_addressed_to_our_spid_is_not_served(store: SQLDocumentStore) -> None:
    response = InvoiceResponse(
        id="r-1",
        issued=NOW,
        sender=ResponseParty(SENDER, "A supplier's buyer"),
        receiver=ResponseParty(OUR_SPID, "Our access point"),
        code=ResponseCode.REJECTED,
        document_id="INV-1",
    )
    result = _post(
        _receiver(store),
        build_invoice_response(response),
        OUR_SPID,
        INVOICE_RESPONSE,
        INVOICE_RESPONSE_PROCESS,
    )
    assert _not_served(result)


def test_an_mls_addressed_to_our_spid_is_received(store: SQLDocumentStore) -> None:
    result = _post(_receiver(store), _mls(), OUR_SPID, MLS_DOCUMENT_TYPE, MLS_PROCESS, sender=THEIR_SPID)
    assert result.outcome is ReceiveOutcome.ACCEPTED


def test_an_invoice_addressed_to_a_participant_we_serve_is_received(store: SQLDocumentStore) -> None:
    result = _post(_receiver(store), INVOICE.read_bytes(), COOPERATIVE, BIS_INVOICE, BIS_BILLING_PROCESS)
    assert result.outcome is ReceiveOutcome.ACCEPTED


def test_a_spid_listed_among_the_served_participants_takes_every_document(store: SQLDocumentStore) -> None:
    # An operator who lists the SPID in GATEWAY_AS4__SERVED asked for it: served as listed.
    receiver = _receiver(store, served={COOPERATIVE, OUR_SPID})
    result = _post(receiver, INVOICE.read_bytes(), OUR_SPID, BIS_INVOICE, BIS_BILLING_PROCESS)
    assert result.outcome is ReceiveOutcome.ACCEPTED


def test_the_spid_takes_the_mls_document_type_with_the_mls_process_only(store: SQLDocumentStore) -> None:
    # peppol-as4.md §12: the pair, both case-sensitive (§8 identifier schemes); a scheme written out or
    # left to its default is one identifier.
    serves = _receiver(store)._serves
    assert serves(OUR_SPID, DocumentTypeID.parse(MLS_DOCUMENT_TYPE.uri), ProcessID.parse(MLS_PROCESS.uri))
    assert serves(ParticipantID.parse("0242:000002"), MLS_DOCUMENT_TYPE, ProcessID(MLS_PROCESS.value))
    assert not serves(OUR_SPID, BIS_INVOICE, MLS_PROCESS)  # an invoice under the MLS process
    assert not serves(OUR_SPID, MLS_DOCUMENT_TYPE, BIS_BILLING_PROCESS)
    assert not serves(OUR_SPID, INVOICE_RESPONSE, MLS_PROCESS)  # another ApplicationResponse
    assert not serves(OUR_SPID, DocumentTypeID(MLS_DOCUMENT_TYPE.value.upper()), MLS_PROCESS)
    assert not serves(OUR_SPID, MLS_DOCUMENT_TYPE, ProcessID(MLS_PROCESS.value.upper()))
    assert not serves(THEIR_SPID, MLS_DOCUMENT_TYPE, MLS_PROCESS)  # another access point's SPID
