"""POST /as4 parses the business document's bytes into a tree once (issue 12: validate once per document per
side; do not parse the same bytes twice): the AS4 side reads the SBDH and checks the rest without a tree,
the validation parses the document (hardened). Counted on the real route, SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from lxml import etree

from gateway.model.message import InboundStatus
from gateway.store import SQLDocumentStore
from gateway.validation import ValidationEngine
from gateway.xmlcore import root_element_bytes
from tests.contract.store_databases import BACKENDS
from tests.integration.conftest import backend_store
from tests.integration.test_as4_endpoint import (
    FlakyStore,
    inbound_documents,
    make_app,
    make_message,
    official_example,
    sbd_of,
    settings_for,
)


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, module_stores: dict[str, SQLDocumentStore]) -> FlakyStore:
    return FlakyStore(backend_store(request, module_stores))


@pytest.fixture
def client(
    store: FlakyStore,
    artefacts_dir: Path,
    validation_engine: ValidationEngine,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[TestClient]:
    settings = settings_for(artefacts_dir, tmp_path_factory.mktemp("cache"))
    with TestClient(make_app(settings, store, validation_engine)) as c:
        yield c


@pytest.mark.parametrize("valid", [True, False])
def test_the_business_document_is_parsed_into_a_tree_once(
    client: TestClient, store: FlakyStore, artefacts_dir: Path, monkeypatch: pytest.MonkeyPatch, valid: bool
) -> None:
    business = official_example(artefacts_dir)
    if not valid:  # well-formed, the totals wrong (BR-CO-*): invalid, still numbered from the one tree
        business = business.replace(b"<cbc:ID>Snippet1</cbc:ID>", b"<cbc:ID> inv-Snippet1 </cbc:ID>", 1)
        payable = b'<cbc:PayableAmount currencyID="EUR">'
        business = business.replace(payable, payable + b"1", 1)
        assert b"inv-Snippet1" in business
        assert payable + b"1" in business
    marker = business[-300:-20]  # the document's own tail: in its bytes and in the SBD, nowhere else
    assert marker in sbd_of(business)
    trees: list[int] = []

    def counting(real: Any) -> Any:
        def parse(text: Any, *args: Any, **kwargs: Any) -> Any:
            data = text.encode() if isinstance(text, str) else bytes(text)
            parser = args[0] if args else kwargs.get("parser")
            if marker in data and getattr(parser, "target", None) is None:  # a parser target builds no tree
                trees.append(len(data))
            return real(text, *args, **kwargs)

        return parse

    for name in ("fromstring", "XML"):
        monkeypatch.setattr(etree, name, counting(getattr(etree, name)))
    msg = make_message(sbd_of(business))
    response = client.post("/as4", content=msg.body, headers=dict(msg.headers))
    assert response.status_code == 200
    [document] = inbound_documents(store)
    # The validation ran (and parsed the document); its number was read from that tree, valid or not.
    assert document.status is (InboundStatus.VALID if valid else InboundStatus.INVALID)
    assert document.document_number == ("Snippet1" if valid else "inv-Snippet1")
    as_sent = root_element_bytes(business)  # what the SBD carries: the root element, without the prolog
    assert as_sent is not None
    assert trees == [len(as_sent)]  # one tree of exactly the business document's bytes, none of the SBD
