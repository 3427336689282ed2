"""GET /v1/inbound routes on SQLite and PostgreSQL: listing with filters and cursor, one document with its
report, its exact bytes, roles and problem+json."""

from __future__ import annotations

from datetime import timedelta

import pytest

from gateway.model import BIS_BILLING_PROCESS, BIS_INVOICE, ParticipantID
from gateway.model.message import DocumentContent, InboundDocument, InboundStatus
from tests.integration.document_api import (  # noqa: F401 - fixtures
    T0,
    DocumentAPI,
    _document_apis,
    _postgres_url,
    _sqlite_url,
    auth,
    docs_fixture,
    problem_of,
)

US = ParticipantID.parse("0208:0739484052")
OTHER_US = ParticipantID.parse("9925:BE0739484052")
SUPPLIERS = [ParticipantID.parse("0208:0412345614"), ParticipantID.parse("0088:5798000000001")]


def body(n: int) -> bytes:
    return f"<Invoice><cbc:ID>IN-{n}</cbc:ID></Invoice>\n".encode()


def seed(docs: DocumentAPI) -> list[str]:
    """Six received documents, oldest first; odd ones invalid; every third to OTHER_US; sender alternates."""
    ids = []
    with docs.store.unit_of_work() as uow:
        for n in range(6):
            document_id = f"00000000-0000-0000-0000-0000000000{n:02d}"
            status = InboundStatus.INVALID if n % 2 else InboundStatus.VALID
            report = {
                "rule_set": "peppol-bis-billing-3.0.21",
                "valid": status is InboundStatus.VALID,
                "issues": [],
            }
            uow.inbound.add(
                InboundDocument(
                    id=document_id,
                    as4_message_id=f"in-{n}@peer",
                    sender=SUPPLIERS[n % 2],
                    receiver=OTHER_US if n % 3 == 0 else US,
                    document_type=BIS_INVOICE,
                    process=BIS_BILLING_PROCESS,
                    status=status,
                    received_at=T0 + timedelta(minutes=n),
                    updated_at=T0 + timedelta(minutes=n),
                    sbdh_instance_id=f"sbdh-{n}",
                    status_reason="BR-CO-15" if status is InboundStatus.INVALID else None,
                ),
                DocumentContent(body(n), report),
            )
            ids.append(document_id)
        uow.commit()
    return ids


def listed(docs: DocumentAPI, query: str = "", role: str = "support") -> list[str]:
    response = docs.client.get(f"/v1/inbound?{query}", headers=auth(role))
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


def test_list_is_newest_first_with_filters(docs: DocumentAPI) -> None:
    ids = seed(docs)
    assert listed(docs) == ids[::-1]
    assert listed(docs, "status=invalid") == [ids[5], ids[3], ids[1]]
    assert listed(docs, "sender=0088:5798000000001") == [ids[5], ids[3], ids[1]]
    # Participant ids compare case-insensitively (Peppol Policy for use of Identifiers).
    assert listed(docs, "receiver=9925:be0739484052") == [ids[3], ids[0]]
    assert listed(docs, "receiver=9925:BE0739484052&status=valid") == [ids[0]]
    since = (T0 + timedelta(minutes=4)).isoformat().replace("+", "%2B")
    assert listed(docs, f"since={since}") == [ids[5], ids[4]]


def add_numbered(docs: DocumentAPI, numbers: list[str | None]) -> list[str]:
    """Received documents with these numbers (None: not read), oldest first, the first through the
    verdict's record as the receiver stores it."""
    ids = []
    with docs.store.unit_of_work() as uow:
        for n, number in enumerate(numbers):
            document_id = f"00000000-0000-0000-0000-0000000001{n:02d}"
            uow.inbound.add(
                InboundDocument(
                    id=document_id,
                    as4_message_id=f"numbered-{n}@peer",
                    sender=SUPPLIERS[0],
                    receiver=US,
                    document_type=BIS_INVOICE,
                    process=BIS_BILLING_PROCESS,
                    status=InboundStatus.RECEIVED,
                    received_at=T0 + timedelta(hours=1, minutes=n),
                    updated_at=T0,
                    document_number=number if n else None,
                ),
                DocumentContent(body(n), None),
            )
            ids.append(document_id)
        uow.inbound.record_validation(
            ids[0], status=InboundStatus.INVALID, report=None, reason="BR-01", at=T0, number=numbers[0]
        )
        uow.commit()
    return ids


def test_list_finds_a_document_by_its_number_ignoring_case_or_by_a_prefix(docs: DocumentAPI) -> None:
    numbers = ["INV-12", "Inv-123", "INV-1234", "INV_9", "INVX9", "50%", "5000", None, "Été-2026/1", "ÉTÉ0"]
    ids = add_numbered(docs, numbers)
    assert listed(docs, "number=INV-123") == [ids[1]]
    assert listed(docs, "number=inv-12") == [ids[0]]  # the one recorded with its verdict
    assert listed(docs, "number=%20INV-1234%20") == [ids[2]]  # blanks around a pasted number
    assert listed(docs, "number=inv-12*") == [ids[2], ids[1], ids[0]]
    assert listed(docs, "number=INV-12*&sender=0088:5798000000001") == []
    # LIKE's wildcards in a number are the characters themselves.
    assert listed(docs, "number=inv_*") == [ids[3]]
    assert listed(docs, "number=50%25*") == [ids[5]]
    assert listed(docs, "number=INV-9") == []
    assert listed(docs, "number=%C3%89T%C3%89-2026/1") == [ids[8]]  # ÉTÉ-2026/1
    assert listed(docs, "number=%C3%A9t%C3%A9-*") == [ids[8]]  # été-*: not ÉTÉ0
    assert listed(docs, "number=%C3%A9t%C3%A9*") == [ids[9], ids[8]]
    items = docs.client.get("/v1/inbound?number=inv-123", headers=auth("support")).json()["items"]
    assert [item["document_number"] for item in items] == ["Inv-123"]
    shown = docs.client.get(f"/v1/inbound/{ids[7]}", headers=auth("support")).json()
    assert shown["document_number"] is None


def test_list_pages_with_a_keyset_cursor(docs: DocumentAPI) -> None:
    ids = seed(docs)
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        query = "limit=4" + (f"&cursor={cursor}" if cursor else "")
        page = docs.client.get(f"/v1/inbound?{query}").json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids[::-1]


def test_show_has_the_report_and_the_exact_bytes(docs: DocumentAPI) -> None:
    ids = seed(docs)
    shown = docs.client.get(f"/v1/inbound/{ids[3]}").json()
    assert shown["status"] == "invalid"
    assert shown["status_reason"] == "BR-CO-15"
    assert shown["sender"] == "0088:5798000000001"
    assert shown["receiver"] == "9925:BE0739484052"
    assert shown["as4_message_id"] == "in-3@peer"
    assert shown["sbdh_instance_id"] == "sbdh-3"
    assert shown["document_type"] == BIS_INVOICE.uri
    assert shown["report"]["valid"] is False
    assert shown["ubl_url"] == f"/v1/inbound/{ids[3]}/ubl"
    ubl = docs.client.get(shown["ubl_url"])
    assert ubl.status_code == 200
    assert ubl.headers["content-type"].startswith("application/xml")
    assert ubl.content == body(3)


@pytest.mark.parametrize("suffix", ["", "/ubl"])
def test_unknown_document_is_404_problem(docs: DocumentAPI, suffix: str) -> None:
    response = docs.client.get(f"/v1/inbound/none{suffix}")
    assert response.status_code == 404
    assert problem_of(response)["type"] == "/problems/not-found"


@pytest.mark.parametrize(
    ("query", "status", "kind"),
    [
        ("cursor=%%%", 400, "invalid-cursor"),
        ("sender=x", 422, "invalid-identifier"),
        ("status=delivered", 422, "request-invalid"),
        ("since=yesterday", 422, "request-invalid"),
        ("number=", 422, "invalid-identifier"),
        ("number=*", 422, "invalid-identifier"),
        ("number=%20%20", 422, "invalid-identifier"),
        ("number=INV%0A1", 422, "invalid-identifier"),
        ("number=" + "9" * 201, 422, "invalid-identifier"),
    ],
)
def test_bad_parameters_are_problem_json(docs: DocumentAPI, query: str, status: int, kind: str) -> None:
    response = docs.client.get(f"/v1/inbound?{query}")
    assert response.status_code == status
    assert problem_of(response)["type"] == f"/problems/{kind}"


@pytest.mark.parametrize(
    "path",
    [
        "/v1/inbound",
        "/v1/inbound/00000000-0000-0000-0000-000000000000",
        "/v1/inbound/00000000-0000-0000-0000-000000000000/ubl",
    ],
)
def test_every_role_reads_and_a_key_is_required(docs: DocumentAPI, path: str) -> None:
    seed(docs)
    assert docs.client.get(path, headers={"Authorization": ""}).status_code == 401
    assert docs.client.get(path, headers={"X-API-Key": "wrong", "Authorization": ""}).status_code == 401
    for role in ("sender", "support", "admin"):
        assert docs.client.get(path, headers=auth(role)).status_code == 200, role
