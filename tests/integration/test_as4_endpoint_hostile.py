"""Hostile but validly signed AS4 messages at POST /as4, on SQLite and PostgreSQL (issue 7 "Checked by"):
header values the database columns cannot hold, and the same message posted concurrently. A signed sender
that sends what we cannot store gets a signed ebMS Error, never a 503 that it would retry for ever."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from as4_support import INVOICE, NOW, RECEIVER, SENDER, counter_ids, dev_pki
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from gateway.as4 import OutgoingMessage, build_user_message, verify_receipt
from gateway.as4 import builder as as4_builder
from gateway.model import BIS_BILLING_PROCESS, BIS_INVOICE, DocumentTypeID, ProcessID
from gateway.services import receive as receive_module
from gateway.store.tables import as4_messages, peppol_transmissions
from gateway.ubl import build_sbd
from gateway.ubl.sbdh import HEADER_NODES_REFUSAL, MAX_HEADER_NODES, read_sbd_header
from gateway.validation import ValidationEngine
from gateway.xmlcore import MAX_ATTRIBUTES_PER_TAG, MAX_NAME_BYTES, MAX_NAMESPACE_URI_BYTES
from tests.integration import test_as4_endpoint as endpoint
from tests.integration.test_as4_endpoint import (
    API_KEY,
    FlakyStore,
    error_of,
    inbound_documents,
    make_app,
    serve,
    settings_for,
)

# The endpoint module's fixtures: the store (on this module's databases), the app and its client.
sql_store = endpoint.sql_store
store = endpoint.store
app = endpoint.app
client = endpoint.client

LONG_DOCUMENT_TYPE = DocumentTypeID(BIS_INVOICE.value.replace("::2.1", "#" + "x" * 600 + "::2.1"))
LONG_PROCESS = ProcessID(BIS_BILLING_PROCESS.value + ":" + "y" * 600)


def message(
    document_type: DocumentTypeID = BIS_INVOICE,
    process: ProcessID = BIS_BILLING_PROCESS,
    *,
    message_id: str | None = None,
    invoice: bytes | None = None,
    extra_declaration: bool = False,
    edit: Callable[[bytes], bytes] | None = None,
) -> OutgoingMessage:
    p = dev_pki()
    sbd = build_sbd(
        INVOICE.read_bytes() if invoice is None else invoice,
        sender=SENDER,
        receiver=RECEIVER,
        document_type=document_type,
        process=process,
        country_c1="BE",
        instance_id=str(uuid.uuid4()),
        created=NOW,
    )
    if extra_declaration:  # one more than our own build_sbd lets through
        sbd = sbd.replace(b"<Invoice ", b'<Invoice xmlns:extra="urn:extra" ', 1)
    header = None
    if edit is not None:  # what our own build_sbd would refuse, with the header it wrote
        header = read_sbd_header(sbd, max_bytes=len(sbd))
        sbd = edit(sbd)
    return build_user_message(
        sbd,
        sender=p.sender,
        receiver_certificate=p.receiver.certificate,
        message_id=message_id or f"{uuid.uuid4()}@sender.test",
        timestamp=NOW,
        new_id=counter_ids(),
        header=header,
    )


@pytest.mark.parametrize(
    ("document_type", "process"),
    [(LONG_DOCUMENT_TYPE, BIS_BILLING_PROCESS), (BIS_INVOICE, LONG_PROCESS)],
    ids=["document-type-600", "process-600"],
)
def test_identifiers_longer_than_their_columns_get_a_signed_error_not_a_503(
    client: TestClient, store: FlakyStore, document_type: DocumentTypeID, process: ProcessID
) -> None:
    msg = message(document_type, process)
    response = client.post("/as4", content=msg.body, headers=dict(msg.headers))
    assert response.status_code == 200, response.text
    ref, errors = error_of(response.content)
    assert ref == msg.message_id
    assert [code for code, _ in errors] == ["EBMS:0004"]
    assert inbound_documents(store) == []


def with_declarations(invoice: bytes, total: int) -> bytes:
    """``invoice`` with namespace declarations added to its root's start tag up to ``total`` attributes and
    declarations there (still XSD-valid)."""
    start = invoice.index(b"<Invoice ")
    has = invoice[start : invoice.index(b">", start)].count(b"=")
    declarations = b"".join(b' xmlns:p%d="urn:p%d"' % (n, n) for n in range(total - has))
    return invoice[:start] + b"<Invoice" + declarations + invoice[start + len(b"<Invoice") :]


def test_an_element_with_too_many_attributes_gets_a_signed_error_before_it_is_parsed(
    client: TestClient, store: FlakyStore, caplog: pytest.LogCaptureFixture
) -> None:
    # libxml2 builds a whole start tag before the SBD's pruning read reports it: a 17 MB ``<Invoice a0=''
    # a1='' ...>`` in a received SBD took ~58 times its bytes, and was accepted (``xmlcore.start_tags``).
    invoice = with_declarations(INVOICE.read_bytes(), MAX_ATTRIBUTES_PER_TAG)
    msg = message(invoice=invoice, extra_declaration=True)
    response = client.post("/as4", content=msg.body, headers=dict(msg.headers))
    assert response.status_code == 200, response.text
    ref, errors = error_of(response.content)
    assert ref == msg.message_id
    assert [code for code, _ in errors] == ["EBMS:0004"]
    assert f"the limit is {MAX_ATTRIBUTES_PER_TAG} per element" in caplog.text  # the rejection's log record
    assert inbound_documents(store) == []
    # At the limit: received.
    kept = message(invoice=invoice)
    response = client.post("/as4", content=kept.body, headers=dict(kept.headers))
    assert response.status_code == 200, response.text
    assert len(inbound_documents(store)) == 1


def _declaring(uri_bytes: int) -> Callable[[bytes], bytes]:
    uri = b"urn:" + b"u" * (uri_bytes - 4)
    return lambda sbd: sbd.replace(b"<Invoice ", b'<Invoice xmlns:long="' + uri + b'" ', 1)


def test_a_namespace_uri_above_the_limit_gets_a_signed_error_before_it_is_parsed(
    client: TestClient, store: FlakyStore, caplog: pytest.LogCaptureFixture
) -> None:
    # libxml2 keeps a declared URI several times over: 20 MB of it cost the SBD's read 9 times its bytes.
    msg = message(edit=_declaring(MAX_NAMESPACE_URI_BYTES + 1))
    response = client.post("/as4", content=msg.body, headers=dict(msg.headers))
    assert response.status_code == 200, response.text
    ref, errors = error_of(response.content)
    assert ref == msg.message_id
    assert [code for code, _ in errors] == ["EBMS:0004"]
    assert f"namespace URI of more than {MAX_NAMESPACE_URI_BYTES} bytes" in caplog.text
    assert inbound_documents(store) == []
    kept = message(edit=_declaring(MAX_NAMESPACE_URI_BYTES))  # at the limit: received
    response = client.post("/as4", content=kept.body, headers=dict(kept.headers))
    assert response.status_code == 200, response.text
    assert len(inbound_documents(store)) == 1


NAMED: dict[str, Callable[[bytes], Callable[[bytes], bytes]]] = {
    "element": lambda name: lambda sbd: sbd.replace(b"</Invoice>", b"<" + name + b"/></Invoice>", 1),
    "attribute": lambda name: lambda sbd: sbd.replace(b"<Invoice ", b"<Invoice " + name + b'="1" ', 1),
    "prefix": lambda name: (
        lambda sbd: sbd.replace(b"<Invoice ", b"<Invoice xmlns:" + name[6:] + b'="urn:p" ', 1)
    ),
}


@pytest.mark.parametrize("kind", NAMED)
def test_a_name_of_5_mb_in_the_payload_gets_a_signed_error_before_it_is_parsed(
    client: TestClient, store: FlakyStore, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    # libxml2 reads a name of up to 10 MB under huge_tree: 9.9 MB of it cost the SBD's read 4 times its bytes.
    msg = message(edit=NAMED[kind](b"n" * 5_000_000))
    response = client.post("/as4", content=msg.body, headers=dict(msg.headers))
    assert response.status_code == 200, response.text
    ref, errors = error_of(response.content)
    assert ref == msg.message_id
    assert [code for code, _ in errors] == ["EBMS:0004"]
    assert f"name of more than {MAX_NAME_BYTES} bytes" in caplog.text
    assert inbound_documents(store) == []
    kept = message(edit=NAMED[kind](b"n" * MAX_NAME_BYTES))  # at the limit: received
    response = client.post("/as4", content=kept.body, headers=dict(kept.headers))
    assert response.status_code == 200, response.text
    assert len(inbound_documents(store)) == 1


def _in(encoding: str, codec: str, name: str = "") -> Callable[[bytes], bytes]:
    """The SBD re-encoded, its declaration naming ``encoding``; ``name``: an element added to the invoice."""

    def edit(sbd: bytes) -> bytes:
        text = sbd.decode().replace("'UTF-8'", f"'{encoding}'", 1)
        assert encoding in text[:60]
        return text.replace("</Invoice>", f"<{name}/></Invoice>" if name else "</Invoice>", 1).encode(codec)

    return edit


@pytest.mark.parametrize(
    ("edit", "refusal"),
    [
        (_in("UTF-16", "utf-16", "\u4e3c" * 2_000_000), "UTF-16 (a byte order mark)"),  # 4 MB of name
        (_in("UTF-16", "utf-16-be"), "UTF-16 (NUL bytes at its start)"),
        (_in("UTF-32", "utf-32"), "UTF-32 (a byte order mark)"),
        (_in("IBM037", "cp037"), "EBCDIC"),
    ],
    ids=["utf-16, a name of 4 MB", "utf-16be, no bom", "utf-32", "ebcdic"],
)
def test_a_payload_not_in_utf_8_gets_a_signed_error_before_it_is_parsed(
    client: TestClient,
    store: FlakyStore,
    caplog: pytest.LogCaptureFixture,
    edit: Callable[[bytes], bytes],
    refusal: str,
) -> None:
    # The byte scans before the parse read "<" and "=" as bytes: a UTF-16 name of U+4E3C (bytes "3C 4E")
    # left the name bound no gap to find, and the receiver's read of the SBD parsed it (``xmlcore.encoding``).
    msg = message(edit=edit)
    response = client.post("/as4", content=msg.body, headers=dict(msg.headers))
    assert response.status_code == 200, response.text
    ref, errors = error_of(response.content)
    assert ref == msg.message_id
    assert [code for code, _ in errors] == ["EBMS:0004"]  # as any SBD that cannot be read
    assert f"SBD is encoded in {refusal}: the gateway reads XML in UTF-8" in caplog.text
    assert inbound_documents(store) == []
    kept = message(edit=_in("ISO-8859-1", "latin-1"))  # an ASCII-compatible encoding: received
    response = client.post("/as4", content=kept.body, headers=dict(kept.headers))
    assert response.status_code == 200, response.text
    assert len(inbound_documents(store)) == 1


HEADER_BLOCKS: dict[str, Callable[[bytes], bytes]] = {
    "element": lambda name: b"<" + name + b"/>",
    "attribute": lambda name: b"<h " + name + b"='1'/>",
    "prefix": lambda name: b"<" + name[6:] + b":h xmlns:" + name[6:] + b"='urn:p'/>",  # the name: xmlns:...
}


@pytest.mark.parametrize("kind", HEADER_BLOCKS)
def test_a_long_name_in_the_soap_envelope_gets_a_signed_error_before_it_is_parsed(
    client: TestClient, store: FlakyStore, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    # The envelope's own limit (MAX_SOAP_BYTES, 2 MiB) refuses 5 MB whatever it holds: 1 MB of name here.
    def posted(name: bytes) -> tuple[OutgoingMessage, httpx.Response]:
        msg = message()
        block = HEADER_BLOCKS[kind](name)
        body = msg.body.replace(b"<S12:Header>", b"<S12:Header>" + block, 1)
        return msg, client.post("/as4", content=body, headers=dict(msg.headers))

    _, response = posted(b"n" * 1_000_000)
    assert response.status_code == 200, response.text
    _, errors = error_of(response.content)
    assert [code for code, _ in errors] == ["EBMS:0009"]  # as any SOAP envelope that cannot be read
    refusal = (
        f"SOAP envelope has an element, attribute or namespace prefix name of more than {MAX_NAME_BYTES}"
    )
    assert refusal in caplog.text
    assert inbound_documents(store) == []
    kept, response = posted(b"n" * MAX_NAME_BYTES)  # at the limit: received (an unknown header block)
    assert verify_receipt(
        dict(response.headers), response.content, kept, trust=dev_pki().trust, at=NOW
    ).is_success
    assert len(inbound_documents(store)) == 1


def test_a_header_of_too_many_nodes_gets_a_signed_error(
    client: TestClient, store: FlakyStore, caplog: pytest.LogCaptureFixture
) -> None:
    # Refused as soon as the node past the limit is read (``sbd_stream``), whatever follows it.
    pad = b"<x/>" * MAX_HEADER_NODES
    msg = message(edit=lambda sbd: sbd.replace(b"HeaderVersion>1.0", b"HeaderVersion>1.0" + pad, 1))
    response = client.post("/as4", content=msg.body, headers=dict(msg.headers))
    assert response.status_code == 200, response.text
    ref, errors = error_of(response.content)
    assert ref == msg.message_id
    assert [code for code, _ in errors] == ["EBMS:0004"]
    assert HEADER_NODES_REFUSAL in caplog.text
    assert inbound_documents(store) == []


@pytest.mark.parametrize("order", ["real-first", "real-last"])
def test_a_request_with_two_content_type_fields_gets_a_signed_error(
    client: TestClient, store: FlakyStore, order: str
) -> None:
    """Two Content-Type header fields (RFC 9110 §5.3: a field that is no list is sent once): a proxy that
    keeps the last would read another boundary or media type than we do; refused, never guessed."""
    msg = message()
    headers = [(k, v) for k, v in msg.headers.items() if k.lower() != "content-type"]
    real = ("Content-Type", msg.headers["Content-Type"])
    other = ("Content-Type", 'multipart/related; boundary="other"; type="application/soap+xml"')
    fields = [real, other] if order == "real-first" else [other, real]
    response = client.post("/as4", content=msg.body, headers=headers + fields)
    assert response.status_code == 200, response.text
    _, errors = error_of(response.content)
    assert [code for code, _ in errors] == ["EBMS:0009"]
    assert inbound_documents(store) == []


@pytest.mark.parametrize("stamp", ["0001-01-01T00:00:00+14:00", "0001-01-01T00:30:00+01:00"])
def test_a_timestamp_that_leaves_the_utc_range_gets_a_receipt_not_a_500(
    app: FastAPI, store: FlakyStore, monkeypatch: pytest.MonkeyPatch, stamp: str
) -> None:
    """A signed eb:Timestamp early on 0001-01-01 with a positive offset is a valid xsd:dateTime that is not
    in the future (the P-Mode lets it through), but lies before 0001-01-01 in UTC: converting it for the
    Peppol reporting record overflowed inside the evidence's unit of work, a 500 for every resend."""
    monkeypatch.setattr(as4_builder, "_timestamp", lambda _: stamp)  # signed as the sender wrote it
    msg = message()
    assert f">{stamp}<".encode() in msg.body  # in the signed eb:Messaging header
    with TestClient(app, raise_server_exceptions=False) as http:
        response = http.post("/as4", content=msg.body, headers=dict(msg.headers))
    assert response.status_code == 200, response.text
    assert verify_receipt(dict(response.headers), response.content, msg).is_success
    [document] = inbound_documents(store)
    assert document.as4_message_id == msg.message_id
    with store.inner.engine.connect() as connection:
        [at] = connection.execute(select(peppol_transmissions.c.at)).scalars().all()
    assert at.replace(tzinfo=None) == NOW.replace(tzinfo=None)  # the SBDH creation time instead


def test_one_message_id_with_different_contents_posted_at_once_stores_one_document(
    store: FlakyStore, artefacts_dir: Path, validation_engine: ValidationEngine, tmp_path: Path
) -> None:
    """Six differently built messages (other SBD instance ids, other ciphertexts) sharing one eb:MessageId,
    released together: one is stored, and every answer is that message's receipt (AS4 duplicate
    elimination is on MessageId), a signed error, or a 503 to retry; never a 500 nor two documents."""
    settings = settings_for(artefacts_dir, tmp_path, max_concurrent_requests=6)
    app = make_app(settings, store, validation_engine)
    message_id = f"{uuid.uuid4()}@replay.test"
    variants = [message(message_id=message_id) for _ in range(6)]
    barrier = threading.Barrier(len(variants))

    def deliver(url: str, msg: OutgoingMessage) -> httpx.Response:
        with httpx.Client(timeout=120) as http:
            barrier.wait()
            return http.post(url, content=msg.body, headers=dict(msg.headers))

    with serve(app) as url, ThreadPoolExecutor(len(variants)) as pool:
        responses = list(pool.map(deliver, [url] * len(variants), variants))
    assert {r.status_code for r in responses} <= {200, 503}, [r.status_code for r in responses]
    [document] = inbound_documents(store)
    assert document.as4_message_id == message_id
    receipts = {r.content for r in responses if r.status_code == 200 and b"Receipt" in r.content}
    assert len(receipts) == 1  # the stored one, byte-identical for every duplicate


def test_one_document_delivered_at_once_under_two_message_ids_is_stored_once(
    store: FlakyStore,
    artefacts_dir: Path,
    validation_engine: ValidationEngine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An application-level resend (a new eb:MessageId, the same SBDH instance and document) that overlaps
    the original - the sender gave up waiting for a slow receipt - is linked to the original's document
    (STORE_AND_LINK), never stored as a second document with a second expense draft and MLS. The two
    receipts' units of work are held open side by side (a pause after the instance look-up)."""
    settings = settings_for(artefacts_dir, tmp_path, max_concurrent_requests=2)
    app = make_app(settings, store, validation_engine)
    looked_up = receive_module.same_document

    def slow_same_document(*args: Any, **kwargs: Any) -> Any:
        found = looked_up(*args, **kwargs)
        time.sleep(0.5)  # the other delivery looks its instance up meanwhile
        return found

    monkeypatch.setattr(receive_module, "same_document", slow_same_document)
    p = dev_pki()
    sbd = build_sbd(
        INVOICE.read_bytes(),
        sender=SENDER,
        receiver=RECEIVER,
        document_type=BIS_INVOICE,
        process=BIS_BILLING_PROCESS,
        country_c1="BE",
        instance_id=str(uuid.uuid4()),
        created=NOW,
    )
    messages = [
        build_user_message(
            sbd,
            sender=p.sender,
            receiver_certificate=p.receiver.certificate,
            message_id=f"{uuid.uuid4()}@sender.test",
            timestamp=NOW,
            new_id=counter_ids(),
        )
        for _ in range(2)
    ]
    barrier = threading.Barrier(len(messages))

    def deliver(url: str, msg: OutgoingMessage) -> httpx.Response:
        with httpx.Client(timeout=120) as http:
            barrier.wait()
            return http.post(url, content=msg.body, headers=dict(msg.headers))

    with serve(app) as url, ThreadPoolExecutor(len(messages)) as pool:
        responses = list(pool.map(deliver, [url] * len(messages), messages))
    assert [r.status_code for r in responses] == [200, 200]
    for response, msg in zip(responses, messages, strict=True):
        assert verify_receipt(dict(response.headers), response.content, msg).is_success
    [document] = inbound_documents(store)
    with store.inner.engine.connect() as connection:
        linked = connection.execute(select(as4_messages.c.document_id)).scalars().all()
    assert linked == [document.id, document.id]  # both messages' evidence names the one document


def test_our_api_keys_sent_to_as4_under_any_header_name_are_not_stored(
    client: TestClient, store: FlakyStore
) -> None:
    """The credential-header list names the usual fields; a configured API key sent under another name
    (a proxy's X-Forwarded-Authorization, a client's own X-Auth-Token) must not land in as4_messages."""
    msg = message()
    leaks = {
        "X-Forwarded-Authorization": f"Bearer {API_KEY}",
        "X-Auth-Token": API_KEY,
        "X-Custom": f"token={API_KEY}, other=1",
    }
    accepted = client.post("/as4", content=msg.body, headers={**dict(msg.headers), **leaks})
    assert accepted.status_code == 200
    client.post("/as4", content=b"junk", headers={"Content-Type": "application/soap+xml", **leaks})
    with store.inner.engine.connect() as connection:
        stored = connection.execute(select(as4_messages.c.request_headers)).scalars().all()
    assert len(stored) == 2
    assert API_KEY not in repr(stored)
    assert "x-custom" not in repr(stored).lower()
    assert "user-agent" in repr(stored).lower()  # the other fields are kept
