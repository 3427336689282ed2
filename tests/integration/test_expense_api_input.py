"""The JSON bodies of the unit and expense action routes, on SQLite and PostgreSQL: read by the routes
themselves after authentication (see test_api_edge for the unread bodies), parsed strictly as their OpenAPI
schema says, and refused with 422 problem+json naming each field; text PostgreSQL cannot store (NUL) and
members longer than their column are refused before the database, never answered 503."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.validation import ValidationEngine
from tests.integration.conftest import problem_of
from tests.integration.expense_support import (  # noqa: F401 - fixtures
    ExpenseApp,
    app_fixture,
    auth,
    deliver,
    supplier_document,
)


def locations(response: Any) -> list[str]:
    problem = problem_of(response)
    assert problem["status"] == 422
    assert problem["type"] == "/problems/request-invalid"
    errors = problem["errors"]
    assert isinstance(errors, list)
    return [str(e["location"]) for e in errors]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"[{not json", ["body"]),
        (b"", ["body"]),
        (b'{"code": "PU-1", "name": "A"}', ["body"]),
        (b'[{"code": "PU-1"}]', ["body.0.name"]),
        (b'[{"code": "PU-1", "name": "A", "active": "yes"}]', ["body.0.active"]),
        (b'[{"code": "PU-1", "name": "A", "active": 1}]', ["body.0.active"]),
        (b'[{"code": "PU-1", "name": "A\\u0000B"}]', ["body.0.name"]),
        (b'[{"code": "PU-1", "name": "A", "members": ["' + b"m" * 201 + b'"]}]', ["body.0.members.0"]),
        (b'[{"code": "1-PU", "name": "A"}]', ["body.0.code"]),
        (b'[{"code": "PU-1", "name": "A"}, {"name": 5}]', ["body.1.code", "body.1.name"]),
    ],
)
def test_a_malformed_unit_list_is_refused_naming_each_field(
    app: ExpenseApp, body: bytes, expected: list[str]
) -> None:
    headers = {**auth("admin"), "Content-Type": "application/json"}
    response = app.client.put("/v1/units", content=body, headers=headers)
    assert sorted(locations(response)) == expected
    assert app.client.get("/v1/units", headers=auth("admin")).json() == []  # nothing stored, atomically


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"{}", ["body.name"]),
        (b'{"name": "A\\u0000"}', ["body.name"]),
        (b'{"name": "A", "members": [7]}', ["body.members.0"]),
        (b'{"name": "A", "active": "false"}', ["body.active"]),
    ],
)
def test_a_malformed_unit_is_refused_naming_each_field(
    app: ExpenseApp, body: bytes, expected: list[str]
) -> None:
    headers = {**auth("admin"), "Content-Type": "application/json"}
    response = app.client.put("/v1/units/PU-04711", content=body, headers=headers)
    assert locations(response) == expected
    assert app.client.get("/v1/units", headers=auth("admin")).json() == []


def test_units_are_put_and_a_blank_name_is_refused(app: ExpenseApp) -> None:
    admin = auth("admin")
    listed = [
        {"code": "PU-04711", "name": "De Eik", "members": ["member-a"]},
        {"code": "PU00123", "name": "B"},
    ]
    assert app.client.put("/v1/units", json=listed, headers=admin).status_code == 200
    one = app.client.put("/v1/units/pu 00123", json={"name": "Het Graan", "active": False}, headers=admin)
    assert one.json() == {
        "key": "PU00123",
        "code": "pu 00123",
        "name": "Het Graan",
        "active": False,
        "members": [],
    }
    blank = app.client.put("/v1/units/PU-00123", json={"name": "  "}, headers=admin)
    assert problem_of(blank)["type"] == "/problems/expense-request-invalid"
    assert [u["name"] for u in app.client.get("/v1/units", headers=admin).json()] == ["Het Graan", "De Eik"]


def test_a_unit_read_with_get_is_written_back_and_a_field_it_has_not_is_refused(app: ExpenseApp) -> None:
    """GET's answer (with its read-only key and code) may be PUT back; a misspelt field used to be ignored,
    so ``memebers`` emptied the unit's members without a word; a key or code of another unit is refused."""
    admin = auth("admin")
    put = app.client.put("/v1/units/PU-04711", json={"name": "De Eik", "members": ["an"]}, headers=admin)
    assert put.status_code == 200
    read = app.client.get("/v1/units/PU-04711", headers=admin).json()
    again = app.client.put("/v1/units/pu04711", json={**read, "name": "De Eik bis"}, headers=admin)
    assert again.json() == {**read, "code": "pu04711", "name": "De Eik bis"}
    listed = app.client.put("/v1/units", json=[{**read, "active": False}], headers=admin)
    assert listed.json()[0]["active"] is False

    headers = {**admin, "Content-Type": "application/json"}
    typo = app.client.put("/v1/units/PU-04711", content=b'{"name": "A", "memebers": []}', headers=headers)
    assert locations(typo) == ["body.memebers"]
    for body in ({**read, "key": "PU00123"}, {**read, "code": "PU-00123"}):
        problem = problem_of(app.client.put("/v1/units/PU-04711", json=body, headers=admin))
        assert (problem["status"], problem["type"]) == (422, "/problems/expense-request-invalid")
        assert "another unit than 'PU-04711'" in str(problem["detail"])
    other = problem_of(app.client.put("/v1/units", json=[{**read, "key": "PU00123"}], headers=admin))
    assert str(other["detail"]).startswith("item 1: the body's key or code names another unit")
    assert app.client.get("/v1/units", headers=admin).json() == [{**read, "active": False}]


def test_a_malformed_read_only_key_or_code_is_refused_naming_the_field_and_the_item(app: ExpenseApp) -> None:
    """A malformed ``key`` was answered "unit code 'oops' is not letters..." without the item nor the field:
    the unit's code was right, so the admin looked for the fault in the wrong place."""
    admin = auth("admin")
    second = {"code": "PU-04711", "name": "De Eik", "key": "oops"}
    listed = problem_of(
        app.client.put("/v1/units", json=[{"code": "PU-00123", "name": "Het Graan"}, second], headers=admin)
    )
    assert (listed["status"], listed["type"]) == (422, "/problems/expense-request-invalid")
    assert listed["detail"] == (
        "item 2: the body's key: unit code 'oops' is not letters followed by digits (e.g. PU-00123)"
    )
    for field in ("key", "code"):
        body = {"name": "De Eik", field: "PU-"}
        one = problem_of(app.client.put("/v1/units/PU-04711", json=body, headers=admin))
        assert one["detail"] == (
            f"the body's {field}: unit code 'PU-' is not letters followed by digits (e.g. PU-00123)"
        )
    assert app.client.get("/v1/units", headers=admin).json() == []


def test_a_unit_list_naming_a_unit_twice_is_refused_as_the_unit_file_is(app: ExpenseApp) -> None:
    """``PU-04711`` and ``pu04711`` are one unit: the answer listed both while the store kept the last;
    the list is refused naming the unit, nothing is stored."""
    listed = [{"code": "PU-04711", "name": "De Eik"}, {"code": "pu04711", "name": "Het Graan"}]
    response = app.client.put("/v1/units", json=listed, headers=auth("admin"))
    problem = problem_of(response)
    assert problem["status"] == 422
    assert problem["type"] == "/problems/expense-request-invalid"
    assert "PU04711" in str(problem["detail"])
    assert app.client.get("/v1/units", headers=auth("admin")).json() == []


@pytest.mark.parametrize(
    ("path", "body", "where"),
    [
        (
            "/v1/units",
            [{"code": "PU-1", "name": "A"}, {"code": "PU-2", "name": "B", "members": ["an", "an"]}],
            "item 2: ",
        ),
        ("/v1/units/PU-2", {"name": "B", "members": ["an", "jan", "an"]}, ""),
    ],
)
def test_a_unit_naming_a_member_twice_is_refused_as_a_repeated_unit_is(
    app: ExpenseApp, path: str, body: Any, where: str
) -> None:
    """The answer listed the member twice (the store kept it once): refused naming the member, nothing
    stored. Names compare exactly, as members are matched (``An`` and ``an`` are two keys)."""
    response = app.client.put(path, json=body, headers=auth("admin"))
    problem = problem_of(response)
    assert problem["status"] == 422
    assert problem["type"] == "/problems/expense-request-invalid"
    assert problem["detail"] == f"{where}members named twice: 'an'"
    assert app.client.get("/v1/units", headers=auth("admin")).json() == []
    kept = app.client.put(
        "/v1/units/PU-2", json={"name": "B", "members": ["An", "an"]}, headers=auth("admin")
    )
    assert kept.json()["members"] == ["An", "an"]


def test_expense_action_bodies_are_parsed_after_the_role_check_and_name_each_field(
    app: ExpenseApp, validation_engine: ValidationEngine
) -> None:
    assert (
        app.client.put("/v1/units/PU-04711", json={"name": "De Eik"}, headers=auth("admin")).status_code
        == 200
    )
    ubl = supplier_document(validation_engine, "be-zero-rated.json", number="F-7", buyer_reference="PU04711")
    deliver(app.client, ubl)
    [expense] = app.client.get("/v1/expenses", headers=auth("member-a")).json()["items"]
    url = f"/v1/expenses/{expense['id']}"

    def post(who: str, action: str, body: bytes | None = None) -> Any:
        headers = {**auth(who), "Content-Type": "application/json"}
        return app.client.post(f"{url}/{action}", content=body, headers=headers)

    # The invoicing system's key may not act at all: 403 whatever the body.
    assert problem_of(post("sender", "reject", b"{not json"))["status"] == 403
    assert locations(post("support", "assign", b"{}")) == ["body.unit"]
    assert locations(post("support", "assign", b'{"unit": "PU-04711", "remember_supplier": "no"}')) == [
        "body.remember_supplier"
    ]
    assert locations(post("member-a", "reject", b'{"reason": ""}')) == ["body.reason"]
    # PostgreSQL stores no NUL: refused here, not answered 503 by the database.
    assert locations(post("member-a", "reject", b'{"reason": "wrong\\u0000price"}')) == ["body.reason"]
    # Nor U+FFFF: the Invoice Response (XML) cannot carry it; building one failed with a 500.
    assert locations(post("member-a", "reject", b'{"reason": "wrong\\uffffprice"}')) == ["body.reason"]
    assert locations(post("member-a", "query", b'{"question": "Which?", "reason_codes": "REF"}')) == [
        "body.reason_codes"
    ]
    assert locations(post("member-a", "answer", b"[]")) == ["body"]
    # A field the action does not take is refused, never ignored: a misspelt remember_supplier would
    # otherwise leave the supplier remembered.
    assert locations(post("support", "assign", b'{"unit": "PU-04711", "remember_suplier": false}')) == [
        "body.remember_suplier"
    ]
    assert locations(post("member-a", "reject", b'{"reason": "No.", "reason_code": ["PRI"]}')) == [
        "body.reason_code"
    ]
    assert locations(post("member-a", "query", b'{"question": "Which?", "to": "x"}')) == ["body.to"]
    assert locations(post("member-a", "answer", b'{"anwser": "Order 7"}')) == ["body.anwser"]
    unchanged = app.client.get(url, headers=auth("member-a")).json()
    assert (unchanged["status"], len(unchanged["events"])) == ("to_approve", 2)

    asked = post("member-a", "query", b'{"question": "Which order?", "reason_codes": ["REF"]}')
    assert asked.json()["status"] == "under_query"
    # The answer's body may be left out (or null).
    assert post("member-a", "answer").json()["status"] == "to_approve"
    assert post("member-a", "query", b'{"question": "And the price?"}').json()["status"] == "under_query"
    assert post("member-a", "answer", b"null").json()["status"] == "to_approve"
    assert app.responder.codes() == ["AB", "UQ", "UQ"]


def duplicate_keys(response: Any) -> list[tuple[str, str]]:
    """(location, message) of each error of a 422 refusing a repeated JSON name, as malformed JSON is."""
    problem = problem_of(response)
    assert (problem["status"], problem["type"]) == (422, "/problems/request-invalid"), problem
    errors = problem["errors"]
    assert isinstance(errors, list)
    return [(str(e["location"]), str(e["message"])) for e in errors]


DUPLICATE = "an object may hold a name once (RFC 8259 §4; readers differ on which value counts)"


def test_a_unit_body_naming_a_key_twice_is_refused_naming_the_key_and_its_place(app: ExpenseApp) -> None:
    """RFC 8259 §4: a proxy or a log may read the first value where the route read the last; the body is
    refused whole (the last value used to be stored), naming each repeated key where it is."""
    headers = {**auth("admin"), "Content-Type": "application/json"}
    listed = b'[{"code": "PU-1", "name": "A"}, {"code": "PU-2", "name": "B", "active": true, "name": "C"}]'
    assert duplicate_keys(app.client.put("/v1/units", content=listed, headers=headers)) == [
        ("body.1.name", f"duplicate key 'name' at /1/name: {DUPLICATE}")
    ]
    one = b'{"name": "A", "members": ["an"], "active": false, "active": true, "name": "B"}'
    assert duplicate_keys(app.client.put("/v1/units/PU-2", content=one, headers=headers)) == [
        ("body.active", f"duplicate key 'active' at /active: {DUPLICATE}"),
        ("body.name", f"duplicate key 'name' at /name: {DUPLICATE}"),
    ]
    # "\u0061ctive" is "active" once read: the same name, written otherwise.
    escaped = b'{"name": "A", "active": false, "\\u0061ctive": true}'
    assert [
        w for w, _ in duplicate_keys(app.client.put("/v1/units/PU-2", content=escaped, headers=headers))
    ] == ["body.active"]
    assert app.client.get("/v1/units", headers=auth("admin")).json() == []


def test_an_expense_action_body_naming_a_key_twice_is_refused(
    app: ExpenseApp, validation_engine: ValidationEngine
) -> None:
    url = _member_a_expense(app, validation_engine, "F-9")

    def post(who: str, action: str, body: bytes) -> Any:
        headers = {**auth(who), "Content-Type": "application/json"}
        return app.client.post(f"{url}/{action}", content=body, headers=headers)

    assign = b'{"unit": "PU-04711", "remember_supplier": false, "remember_supplier": true}'
    assert duplicate_keys(post("support", "assign", assign)) == [
        ("body.remember_supplier", f"duplicate key 'remember_supplier' at /remember_supplier: {DUPLICATE}")
    ]
    reject = b'{"reason": "Wrong price.", "reason": "Fine."}'
    assert [w for w, _ in duplicate_keys(post("member-a", "reject", reject))] == ["body.reason"]
    # The bodies read by ``small_body`` (approve, mark-paid) too.
    assert [w for w, _ in duplicate_keys(post("member-a", "approve", b'{"x": {"y": 1, "y": 1}}'))] == [
        "body.x.y"
    ]
    unchanged = app.client.get(url, headers=auth("member-a")).json()
    assert (unchanged["status"], len(unchanged["events"])) == ("to_approve", 2)
    assert app.responder.codes() == ["AB"]  # the acknowledgement on receipt only


def _member_a_expense(app: ExpenseApp, validation_engine: ValidationEngine, number: str) -> str:
    """The address of a new expense of unit PU-04711, whose member is ``member-a``: a supplier's invoice
    ``number`` delivered to it."""
    admin = auth("admin")
    unit = {"name": "De Eik", "members": ["member-a"]}
    assert app.client.put("/v1/units/PU-04711", json=unit, headers=admin).status_code == 200
    ubl = supplier_document(validation_engine, "be-zero-rated.json", number=number, buyer_reference="PU04711")
    deliver(app.client, ubl)
    [expense] = app.client.get("/v1/expenses", headers=auth("member-a")).json()["items"]
    return f"/v1/expenses/{expense['id']}"


def test_approve_and_mark_paid_refuse_a_field_instead_of_ignoring_it(
    app: ExpenseApp, validation_engine: ValidationEngine
) -> None:
    """They take no parameters and used to pass whatever body came without a word: a client sending a
    comment believed it kept. No body, an empty one, ``null`` (as ``answer`` takes it) and ``{}`` pass;
    anything else is 422 naming it."""
    url = _member_a_expense(app, validation_engine, "F-8")

    def post(action: str, body: bytes | None = None) -> Any:
        headers = {**auth("member-a"), "Content-Type": "application/json"}
        return app.client.post(f"{url}/{action}", content=body, headers=headers)

    for action in ("approve", "mark-paid"):
        assert locations(post(action, b'{"comment": "looks fine"}')) == ["body.comment"]
        assert sorted(locations(post(action, b'{"paid_on": "2026-12-01", "note": ""}'))) == [
            "body.note",
            "body.paid_on",
        ]
        for other in (b"[]", b'"ok"', b"{not json"):
            assert locations(post(action, other)) == ["body"], other
    unchanged = app.client.get(url, headers=auth("member-a")).json()
    assert (unchanged["status"], len(unchanged["events"])) == ("to_approve", 2)

    assert post("approve", b"{}").json()["status"] == "approved"
    assert post("approve").json()["status"] == "approved"  # a repeat, with no body at all
    assert post("approve", b" null ").json()["status"] == "approved"
    assert post("mark-paid", b" ").json()["status"] == "paid"
    assert post("mark-paid", b"null").json()["status"] == "paid"
    assert app.responder.codes() == ["AB", "AP", "PD"]


def test_a_reason_question_or_answer_without_a_visible_character_is_refused(
    app: ExpenseApp, validation_engine: ValidationEngine
) -> None:
    """Zero-width spaces, word joiners, byte order marks and blanks passed the schema and the workflow and
    reached the supplier's Invoice Response as an empty-looking note: the workflow refuses them (422)."""
    url = _member_a_expense(app, validation_engine, "F-9")

    def refusal(action: str, body: dict[str, str]) -> str:
        problem = problem_of(app.client.post(f"{url}/{action}", json=body, headers=auth("member-a")))
        assert (problem["status"], problem["type"]) == (422, "/problems/expense-request-invalid")
        return str(problem["detail"])

    invisible = "\u200b \u2060\ufeff\n\t\u00a0"
    assert refusal("reject", {"reason": invisible}).startswith("the reject reason has no visible character")
    assert refusal("query", {"question": "\u200b"}).startswith("the question has no visible character")
    unchanged = app.client.get(url, headers=auth("member-a")).json()
    assert (unchanged["status"], len(unchanged["events"])) == ("to_approve", 2)
    asked = app.client.post(f"{url}/query", json={"question": "\u200bWhich order?"}, headers=auth("member-a"))
    assert asked.json()["status"] == "under_query"  # one visible character is enough
    assert refusal("answer", {"answer": "\ufeff\u2060"}).startswith("the answer has no visible character")
    assert app.responder.codes() == ["AB", "UQ"]


@pytest.mark.parametrize(
    "path",
    [
        "/v1/expenses/a%00b",
        "/v1/expenses/%C3%A9t%C3%A9",
        "/v1/expenses/a%00b/evidence",
        "/v1/units/PU%0004711",
        "/v1/units/04711-PU",
    ],
)
def test_a_path_that_cannot_name_an_expense_or_unit_is_refused(app: ExpenseApp, path: str) -> None:
    assert locations(app.client.get(path, headers=auth("support"))) == [
        "path.code" if path.startswith("/v1/units") else "path.expense_id"
    ]
