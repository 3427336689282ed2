"""``GATEWAY_SELLER_NAME``: a posted document whose seller name (BT-27) is not the cooperative's legal name is
refused (422 ``invalid-document-data``), whatever the route; spellings of that name are not another name, and
without the setting nothing is checked."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gateway.bootstrap import Services
from gateway.model import Invoice
from gateway.services.outbound_input import prepare_json_document
from tests.integration.document_api import (  # noqa: F401 - fixtures
    DocumentAPI,
    _document_apis,
    _postgres_url,
    _sqlite_url,
    auth,
    build_app,
    docs_fixture,
    problem_of,
)
from tests.unit.model.model_builders import SELLER, invoice_data, line

XML = {"Content-Type": "application/xml"}
#: model_builders' seller, the name the gateway under test is configured with.
NAME = "Samenwerking CV"
SELLER_NAME = b"<cbc:RegistrationName>Samenwerking CV</cbc:RegistrationName>"
UBL_FIELD = "cac:AccountingSupplierParty/cac:Party/cac:PartyLegalEntity/cbc:RegistrationName"


def _problem(field: str, given: str, trading_field: str) -> str:
    return (
        f'{field}: BT-27 seller name "{given}" is not the cooperative\'s legal name "{NAME}"; the seller '
        "name must be the cooperative's (documents are sent in its name only): an activity's own name "
        f"belongs in BT-28 seller trading name ({trading_field})"
    )


@pytest.fixture(name="named")
def named_fixture(docs: DocumentAPI) -> Iterator[TestClient]:
    """The document API of a gateway configured with ``GATEWAY_SELLER_NAME``, on ``docs``'s store."""
    settings = docs.services.settings.model_copy(update={"seller_name": NAME})
    services = Services(
        settings=settings,
        validation=docs.services.validation,
        store=docs.store,
        clock=docs.clock,
        ids=docs.ids,
    )
    with TestClient(build_app(settings, services), headers=auth("sender")) as client:
        yield client


def _json(name: str, number: str, **changes: Any) -> bytes:
    return json.dumps(invoice_data(seller={**SELLER, "legal_name": name}, number=number, **changes)).encode()


def _ubl(name: str, number: str) -> bytes:
    ubl = prepare_json_document(Invoice.model_validate(invoice_data(number=number))).ubl
    assert ubl.count(SELLER_NAME) == 1
    return ubl.replace(SELLER_NAME, f"<cbc:RegistrationName>{name}</cbc:RegistrationName>".encode())


def _stored(docs: DocumentAPI) -> int:
    with docs.store.unit_of_work(read_only=True) as uow:
        from gateway.services import OutboundQuery

        return len(uow.outbound.search(OutboundQuery(limit=500)).items)


SPELLINGS = ["Samenwerking CV", "SAMENWERKING  c.v.", "samenwerking C. V.", " Samenwerking\u00a0CV "]


def test_json_documents_with_a_spelling_of_the_legal_name_are_accepted(
    docs: DocumentAPI, named: TestClient
) -> None:
    for n, name in enumerate(SPELLINGS):
        response = named.post("/v1/outbound/invoices", content=_json(name, f"2026-N{n}"))
        assert response.status_code == 202, response.text
    assert _stored(docs) == len(SPELLINGS)


@pytest.mark.parametrize("route", ["invoices", "credit-notes"])
def test_json_document_in_another_name_is_refused_naming_both_names(
    docs: DocumentAPI, named: TestClient, route: str
) -> None:
    # An activity's set-up writing its own name as BT-27, under the cooperative's VAT number.
    extra: dict[str, Any] = {}
    if route == "credit-notes":
        extra = {"kind": "credit_note", "preceding_invoices": [{"number": "2026-0004711"}]}
    response = named.post(f"/v1/outbound/{route}", content=_json("Bakkerij Janssens", "2026-X1", **extra))
    assert response.status_code == 422, response.text
    problem = problem_of(response)
    assert problem["type"] == "/problems/invalid-document-data"
    assert problem["errors"] == [_problem("seller.legal_name", "Bakkerij Janssens", "seller.trading_name")]
    # Another legal form is another name, not a spelling.
    response = named.post(f"/v1/outbound/{route}", content=_json("Samenwerking SC", "2026-X2", **extra))
    assert problem_of(response)["errors"] == [
        _problem("seller.legal_name", "Samenwerking SC", "seller.trading_name")
    ]
    assert _stored(docs) == 0


def test_ubl_documents_with_a_spelling_of_the_legal_name_are_accepted(
    docs: DocumentAPI, named: TestClient
) -> None:
    for n, name in enumerate(SPELLINGS):
        response = named.post("/v1/outbound/ubl", content=_ubl(name, f"2026-U{n}"), headers=XML)
        assert response.status_code == 202, response.text
    assert _stored(docs) == len(SPELLINGS)


def test_ubl_document_in_another_name_is_refused_naming_the_registration_name(
    docs: DocumentAPI, named: TestClient
) -> None:
    response = named.post("/v1/outbound/ubl", content=_ubl("Bakkerij Janssens", "2026-U9"), headers=XML)
    assert response.status_code == 422, response.text
    problem = problem_of(response)
    assert problem["type"] == "/problems/invalid-document-data"
    assert problem["errors"] == [
        _problem(
            UBL_FIELD, "Bakkerij Janssens", "cac:AccountingSupplierParty/cac:Party/cac:PartyName/cbc:Name"
        )
    ]
    assert _stored(docs) == 0


def test_an_invalid_document_in_another_name_replays_its_refusal_under_its_key(
    docs: DocumentAPI, named: TestClient
) -> None:
    # Refused by validation too: the refusal, the name's problem among its errors, is stored under the key.
    body = _json("Bakkerij Janssens", "2026-K1", lines=[line(unit_code="FOO")])
    key = {"Idempotency-Key": "other-name-1"}
    first = named.post("/v1/outbound/invoices", content=body, headers=key)
    again = named.post("/v1/outbound/invoices", content=body, headers=key)
    assert first.status_code == again.status_code == 422
    assert again.headers["idempotent-replayed"] == "true"
    assert problem_of(again) == problem_of(first)
    assert problem_of(first)["errors"] == [
        _problem("seller.legal_name", "Bakkerij Janssens", "seller.trading_name")
    ]
    assert _stored(docs) == 0


def test_without_the_setting_the_seller_name_is_not_checked(docs: DocumentAPI) -> None:
    assert docs.services.settings.seller_name is None
    response = docs.client.post("/v1/outbound/invoices", content=_json("Bakkerij Janssens", "2026-F1"))
    assert response.status_code == 202, response.text
    response = docs.client.post("/v1/outbound/ubl", content=_ubl("Bakkerij Janssens", "2026-F2"), headers=XML)
    assert response.status_code == 202, response.text
