"""``POST /as4`` with an HTTP content coding (RFC 9110 §8.4). AS4 compresses the payload itself
(``CompressionType application/gzip``), and the Peppol profile puts no coding on the HTTP body: a request
whose body is declared coded (gzip, deflate, br...) is refused with a signed EBMS:0009 whose public
ErrorDetail names the reason, whether or not the body is really coded. Before, the header was ignored: a
gzip-coded body got an unexplained InvalidHeader (its MIME parse failed), and a plain body declared gzip was
accepted as if the header were not there. ``identity`` (the absence of a coding) is accepted."""

from __future__ import annotations

import gzip

import pytest
from fastapi.testclient import TestClient

from gateway.services.rejected_evidence import DEFAULT_UNAUTHENTICATED_EVIDENCE_BYTES
from tests.integration.test_as4_endpoint import (  # noqa: F401 - fixtures
    FlakyStore,
    _rejected_bodies,
    app,
    client,
    error_of,
    inbound_documents,
    make_message,
    sql_store,
    store,
)

CODING_REFUSED = "HTTP Content-Encoding is not supported: send the MIME message uncoded"


@pytest.mark.parametrize("really_coded", [True, False], ids=["gzip-body", "plain-body"])
def test_a_body_declared_gzip_gets_a_signed_invalid_header_that_says_why(
    client: TestClient,  # noqa: F811 - the imported fixture
    store: FlakyStore,  # noqa: F811 - the imported fixture
    really_coded: bool,
) -> None:
    msg = make_message()
    body = gzip.compress(msg.body) if really_coded else msg.body
    headers = {**dict(msg.headers), "Content-Encoding": "gzip"}
    response = client.post("/as4", content=body, headers=headers)
    assert response.status_code == 200
    _, errors = error_of(response.content)
    assert errors == [("EBMS:0009", CODING_REFUSED)]
    assert inbound_documents(store) == []
    assert _rejected_bodies(store) == [body[:DEFAULT_UNAUTHENTICATED_EVIDENCE_BYTES]]


@pytest.mark.parametrize(
    "fields",
    [
        [("Content-Encoding", "identity, br")],
        [("Content-Encoding", "identity"), ("Content-Encoding", "deflate")],
    ],
    ids=["list", "two-fields"],
)
def test_any_coding_but_identity_in_any_field_is_refused(
    client: TestClient,  # noqa: F811 - the imported fixture
    store: FlakyStore,  # noqa: F811 - the imported fixture
    fields: list[tuple[str, str]],
) -> None:
    msg = make_message()
    headers = [*msg.headers.items(), *fields]
    response = client.post("/as4", content=msg.body, headers=headers)
    _, errors = error_of(response.content)
    assert errors == [("EBMS:0009", CODING_REFUSED)]
    assert inbound_documents(store) == []


@pytest.mark.parametrize("value", ["identity", " Identity ", "IDENTITY,identity", ""])
def test_identity_is_no_coding_and_the_message_is_received(
    client: TestClient,  # noqa: F811 - the imported fixture
    store: FlakyStore,  # noqa: F811 - the imported fixture
    value: str,
) -> None:
    msg = make_message()
    headers = {**dict(msg.headers), "Content-Encoding": value}
    response = client.post("/as4", content=msg.body, headers=headers)
    assert response.status_code == 200
    assert b"eb:Receipt" in response.content
    assert len(inbound_documents(store)) == 1
