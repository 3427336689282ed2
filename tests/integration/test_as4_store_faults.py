"""POST /as4 under database connection cuts: whichever SQL statement of the reception loses its connection,
the endpoint answers 503 with Retry-After (nothing promised: the sender resends) or - when the message was
already stored - its receipt; never a 500, never a receipt for a message that is not stored. The resend
then gets the receipt, and one document is stored."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from gateway.as4 import verify_receipt
from gateway.model.message import Direction
from tests.integration.test_as4_endpoint import (  # noqa: F401 - fixtures
    FlakyStore,
    app,
    client,
    inbound_documents,
    make_message,
    sql_store,
    store,
)
from tests.store_faults import StatementCut


@pytest.fixture
def cut(store: FlakyStore) -> Iterator[StatementCut]:  # noqa: F811 - the imported fixture
    statement_cut = StatementCut(store.inner.engine)
    yield statement_cut
    statement_cut.close()


def stored(flaky: FlakyStore, message_id: str) -> bool:
    with flaky.inner.unit_of_work(read_only=True) as uow:
        return uow.messages.get(message_id, Direction.IN) is not None


def test_a_cut_connection_never_gets_a_500_or_an_unbacked_receipt(
    client: TestClient,  # noqa: F811 - the imported fixture
    store: FlakyStore,  # noqa: F811
    cut: StatementCut,
) -> None:
    for n in range(1, 80):
        msg = make_message()
        cut.arm(n)  # the n-th statement of the reception loses its connection
        response = client.post("/as4", content=msg.body, headers=dict(msg.headers))
        fired = cut.fired
        cut.arm(0)  # disarmed
        if response.status_code == 200:
            assert verify_receipt(dict(response.headers), response.content, msg).is_success
            assert stored(store, msg.message_id)  # a receipt only for what is stored
        else:
            assert fired
            assert response.status_code == 503, (n, response.status_code, response.text)
            assert response.headers["Retry-After"]
            assert b"Receipt" not in response.content
            again = client.post("/as4", content=msg.body, headers=dict(msg.headers))
            assert again.status_code == 200, again.text
            assert verify_receipt(dict(again.headers), again.content, msg).is_success
        ids = [d.as4_message_id for d in inbound_documents(store)]
        assert ids.count(msg.message_id) == 1
        if not fired:
            break
    else:
        pytest.fail("the reception never completed")
    assert n > 1
