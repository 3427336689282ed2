"""The pages over real HTTP (httpx against uvicorn on loopback): sessions, CSRF, the login rate limit,
roles and error pages. The browser suite (test_browser.py) walks the same pages as a person does."""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from conftest import FAILED_NUMBER, PASSWORD, Site, _move, csrf_of, login_token
from fastapi.testclient import TestClient

from gateway.api.app import create_app
from gateway.bootstrap import Services
from gateway.config import DatabaseSettings, Role, TruststoreSettings
from gateway.errors import LaterResponseQueued
from gateway.model import BIS_CREDIT_NOTE, BIS_INVOICE
from gateway.model.message import DeliveryEvent, DeliveryStatus, DocumentKind
from gateway.services.outbound import OutboundSubmitter
from gateway.store import SQLDocumentStore, upgrade_database
from gateway.store.people import SQLPeopleStore
from gateway.validation import ValidationEngine
from gateway.web.accounts import save_account
from gateway.web.ebms_codes import EBMS_ERRORS, plain_reason
from gateway.web.login_routes import _safe_next
from tests.contract.store_builders import content, outbound
from tests.integration.expense_support import COOP, DOCUMENTS, auth


def test_the_session_cookie_is_httponly_samesite_lax_and_opaque(
    new_client: Callable[[], httpx.Client],
) -> None:
    client = new_client()
    token = login_token(client)
    answer = client.post("/web/login", data={"csrf_token": token, "name": "sam", "password": PASSWORD})
    cookie = next(
        v for k, v in answer.headers.multi_items() if k == "set-cookie" and v.startswith("gw_session=")
    )
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie or "samesite=lax" in cookie.lower()
    assert "Path=/web" in cookie
    assert "Secure" not in cookie  # the development stage: plain HTTP on loopback
    value = cookie.split(";")[0].partition("=")[2]
    assert "sam" not in value
    assert len(value) >= 40


def test_pages_need_a_login_and_send_to_the_login_page(new_client: Callable[[], httpx.Client]) -> None:
    answer = new_client().get("/web/outbound")
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/web/login?next=%2Fweb%2Foutbound")


def test_a_login_without_its_csrf_token_is_refused(new_client: Callable[[], httpx.Client]) -> None:
    answer = new_client().post("/web/login", data={"name": "sam", "password": PASSWORD})
    assert answer.status_code == 403
    assert "CSRF" in answer.text or "not sent from the gateway" in answer.text


def test_a_post_without_the_session_csrf_token_is_refused_with_a_403_page(
    site: Site, login: Callable[[str], httpx.Client]
) -> None:
    client = login("sam")
    answer = client.post(f"/web/outbound/{site.failed_id}/retry", data={})
    assert answer.status_code == 403
    assert answer.headers["content-type"].startswith("text/html")
    assert "CSRF token" in answer.text
    forged = client.post(f"/web/outbound/{site.failed_id}/retry", data={"csrf_token": "x" * 43})
    assert forged.status_code == 403


def test_login_failures_are_rate_limited_per_name(site: Site, new_client: Callable[[], httpx.Client]) -> None:
    save_account(site.people, "rita", Role.SUPPORT, [], PASSWORD, clock=site.services.clock)
    client = new_client()
    token = login_token(client)
    limit = site.services.settings.web.login_max_failures
    for _ in range(limit):
        wrong = client.post(
            "/web/login", data={"csrf_token": token, "name": "rita", "password": "wrong password!"}
        )
        assert wrong.status_code == 401
        assert "wrong" in wrong.text
    refused = client.post("/web/login", data={"csrf_token": token, "name": "rita", "password": PASSWORD})
    assert refused.status_code == 429  # even the right password: the window must pass first
    assert "Too many failed logins" in refused.text


def test_a_member_sees_no_support_page_and_not_another_units_expense(
    site: Site, login: Callable[[str], httpx.Client]
) -> None:
    client = login("max")  # member of PU-00123
    assert client.get("/web/outbound").status_code == 403
    assert client.get(f"/web/expenses/{site.routed_expense}").status_code == 404  # PU-04711's
    token = csrf_of(client, "/web/expenses")
    refused = client.post(f"/web/expenses/{site.routed_expense}/approve", data={"csrf_token": token})
    assert refused.status_code == 404
    assert "not yours" in refused.text


def test_search_by_number_and_error_pages(site: Site, login: Callable[[str], httpx.Client]) -> None:
    client = login("sam")
    found = client.get("/web/outbound", params={"number": FAILED_NUMBER})
    assert found.status_code == 200
    assert FAILED_NUMBER in found.text
    # Its kind is listed: an invoice and a credit note may share a number (migration 0016).
    assert re.search(rf">{FAILED_NUMBER}</a></td>\s*<td>invoice</td>", found.text)
    assert "No document matches" in client.get("/web/outbound", params={"number": "nope"}).text
    assert client.get("/web/outbound/00000000-0000-0000-0000-000000000000").status_code == 404
    assert client.get("/web/no-such-page").status_code == 404
    assert client.get("/web/outbound", params={"status": "bogus"}).status_code == 422
    assert client.get("/web/outbound", params={"cursor": "garbage"}).status_code == 422


@pytest.mark.parametrize(
    "path",
    [
        "/web/outbound?number=a%00b",
        "/web/outbound?receiver=EM:a%00@b.example",
        "/web/outbound/a%00b",
        "/web/outbound/a%00b/attachments/0",
        "/web/inbound/a%00b",
        "/web/expenses/a%00b",
        "/web/expenses?supplier=%00",
        "/web/outbound?a%00b=1",
    ],
)
def test_a_nul_in_the_address_is_refused_before_the_database(
    login: Callable[[str], httpx.Client], path: str
) -> None:
    """PostgreSQL cannot compare a text holding a NUL (a 500 page there, a silent "not found" on SQLite):
    as for forms, the address is refused with a clear message."""
    answer = login("sam").get(path)
    assert answer.status_code == 422, answer.text
    assert "NUL" in answer.text


@pytest.mark.parametrize(("action", "field"), [("reject", "reason"), ("query", "question")])
@pytest.mark.parametrize(
    ("text", "refusal"),
    [("wrong\x01amount\x1b[31m", "control character"), ("\u200b\u2060 \ufeff\n", "has no visible character")],
)
def test_a_reason_the_workflow_refuses_is_refused_on_the_form(
    site: Site, login: Callable[[str], httpx.Client], action: str, field: str, text: str, refusal: str
) -> None:
    """The API refuses a control character by its schema; the page form reached the workflow with it, and the
    Invoice Response carrying the text to the supplier cannot be XML (lxml refuses it: a 500 page, nothing
    done). Zero-width spaces and blanks reached it as an empty-looking note. The workflow refuses both, and
    the page says so as for any other refused text."""
    client = login("mia")
    token = csrf_of(client, f"/web/expenses/{site.routed_expense}")
    form = {"csrf_token": token, field: text}
    answer = client.post(f"/web/expenses/{site.routed_expense}/{action}", data=form)
    assert answer.status_code == 422, answer.text
    assert refusal in answer.text


def test_logout_ends_the_session(site: Site, login: Callable[[str], httpx.Client]) -> None:
    client = login("sam")
    token = csrf_of(client, "/web/outbound")
    assert client.post("/web/logout", data={"csrf_token": token}).status_code == 303
    assert client.get("/web/outbound").status_code == 303  # back to the login page


def test_an_unknown_expense_action_is_a_404_page_and_a_refused_role_still_a_403(
    site: Site, login: Callable[[str], httpx.Client], new_client: Callable[[], httpx.Client]
) -> None:
    """An action of no form is no page's address: the 404 page of every unknown address, logged in or not
    (it used to be a route's own 404 for a POST, and a 405 page allowing POST for a GET)."""
    path = f"/web/expenses/{site.routed_expense}"
    nobody = new_client()
    _is_page(nobody.post(f"{path}/bogus", data={}), 404)
    answer = nobody.post(f"{path}/approve", data={})  # an action that exists: the login page
    assert answer.status_code == 303
    assert answer.headers["location"] == (
        f"/web/login?next=%2Fweb%2Fexpenses%2F{site.routed_expense}%2Fapprove"
    )
    member = login("mia")  # member of PU-04711, the routed expense's unit
    token = csrf_of(member, path)
    unknown = member.post(f"{path}/bogus", data={"csrf_token": token})
    _is_page(unknown, 404)
    assert "There is no page at this address." in unknown.text
    assert "bogus" not in unknown.text
    elsewhere = member.post("/web/expenses/00000000-0000-0000-0000-000000000000/bogus", data={})
    assert elsewhere.status_code == 404  # whatever the expense, before the form is read
    refused = member.post(f"{path}/assign", data={"csrf_token": token, "unit": "PU-00123"})
    assert refused.status_code == 403  # an action that exists, but not for a member
    assert "may not assign" in refused.text
    french = member.post(f"{path}/bogus?lang=fr", data={"csrf_token": token})
    assert "Il n'y a pas de page à cette adresse." in html.unescape(french.text)


def test_a_logout_by_address_is_a_405_page_allowing_post(
    login: Callable[[str], httpx.Client], new_client: Callable[[], httpx.Client]
) -> None:
    """A link or an image must not end a session: GET says which method the address takes, and the
    session goes on."""
    client = login("sam")
    answer = client.get("/web/logout", headers={"Accept-Language": "nl-BE"})
    assert answer.status_code == 405
    assert answer.headers["allow"] == "POST"
    assert answer.headers["content-type"].startswith("text/html")
    assert "Methode niet toegestaan" in answer.text
    assert "Uitloggen" in answer.text  # the navigation, with its logout form, for a person logged in
    assert client.get("/web/outbound").status_code == 200  # still logged in
    nobody = new_client().get("/web/logout")
    assert nobody.status_code == 405
    assert nobody.headers["allow"] == "POST"
    assert "Method not allowed" in nobody.text


def _is_page(answer: httpx.Response, status: int) -> None:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("text/html")
    assert answer.headers["cache-control"] == "no-store"
    assert "default-src 'none'" in answer.headers["content-security-policy"]


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "PROPFIND"])
def test_an_unknown_address_is_a_404_page_whatever_the_method(
    site: Site, login: Callable[[str], httpx.Client], new_client: Callable[[], httpx.Client], method: str
) -> None:
    """Never the API's JSON 404, nor a 405 naming GET because a GET page's template took the address."""
    nobody = new_client()
    for path in (
        "/web/nope",
        f"/web/outbound/{site.failed_id}/delete",
        f"/web/expenses/{site.routed_expense}/bogus",  # no action of that name: no 405 allowing POST
        "/web/static/other.css",
    ):
        answer = nobody.request(method, path, headers={"Accept-Language": "fr-BE"})
        _is_page(answer, 404)
        assert "allow" not in answer.headers
        assert "Il n'y a pas de page à cette adresse." in html.unescape(answer.text)
        assert "Se déconnecter" not in answer.text  # no navigation without a session
    logged_in = login("sam").request(method, "/web/nope", headers={"Accept-Language": "nl"})
    _is_page(logged_in, 404)
    assert "Er is geen pagina op dit adres." in logged_in.text
    assert "Uitloggen" in logged_in.text  # the navigation, for a person logged in


@pytest.mark.parametrize(
    "path", ["/web/person/change", "/web/account/password", "/web/expenses/{expense}/approve", "/web/logout"]
)
def test_a_form_address_opened_as_a_link_is_a_405_page_allowing_post(
    site: Site, login: Callable[[str], httpx.Client], new_client: Callable[[], httpx.Client], path: str
) -> None:
    path = path.format(expense=site.routed_expense)
    for client in (new_client(), login("ada")):
        answer = client.get(path, headers={"Accept-Language": "fr"})
        _is_page(answer, 405)
        assert answer.headers["allow"] == "POST"
        assert "Méthode non autorisée" in answer.text
        assert "pas un lien ni une adresse saisie." in html.unescape(answer.text)
        head = client.head(path)  # HEAD as GET, without the body
        assert (head.status_code, head.headers["allow"], head.content) == (405, "POST", b"")
        assert head.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("POST", "/web/outbound", "GET, HEAD"),
        ("DELETE", "/web/outbound/{failed}", "GET, HEAD"),
        ("PUT", "/web/login", "GET, HEAD, POST"),  # every route at the address, not only the first
        ("PATCH", "/web/outbound/{failed}/retry", "GET, HEAD, POST"),
        ("PROPFIND", "/web/people", "GET, HEAD, POST"),
        ("POST", "/web/", "GET, HEAD"),
        ("POST", "/web/static/web.css", "GET, HEAD"),
    ],
)
def test_another_method_at_a_page_address_is_a_405_page_naming_every_method_it_takes(
    site: Site, login: Callable[[str], httpx.Client], method: str, path: str, allow: str
) -> None:
    answer = login("sam").request(
        method, path.format(failed=site.failed_id), headers={"Accept-Language": "nl"}
    )
    _is_page(answer, 405)
    assert answer.headers["allow"] == allow
    assert "Dit adres aanvaardt dit soort verzoek niet." in answer.text
    assert "Uitloggen" in answer.text


def test_an_unknown_address_holding_a_nul_is_a_422_page(new_client: Callable[[], httpx.Client]) -> None:
    answer = new_client().post("/web/nope%00", data={})
    _is_page(answer, 422)
    assert "NUL" in answer.text


def test_the_api_keeps_its_problem_json_for_unknown_addresses_and_methods(
    new_client: Callable[[], httpx.Client],
) -> None:
    client = new_client()
    for method in ("GET", "POST", "PROPFIND"):
        unknown = client.request(method, "/v1/nope")
        assert unknown.status_code == 404
        assert unknown.headers["content-type"] == "application/problem+json"
        assert unknown.json()["type"] == "/problems/http-404"
    wrong = client.post("/healthz")
    assert wrong.status_code == 405
    assert wrong.headers["allow"] == "GET"
    assert wrong.headers["content-type"] == "application/problem+json"
    guarded = client.post("/metrics")  # the operations guard first, as before
    assert guarded.status_code == 401
    assert guarded.headers["content-type"] == "application/problem+json"
    assert client.post("/as4-nope").json()["status"] == 404
    assert client.get("/as4").headers["allow"] == "POST"
    assert client.get("/as4").headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("path", ["/web/outbound", "/web/inbound", "/web/triage", "/web/expenses"])
def test_pages_send_a_strict_content_security_policy(login: Callable[[str], httpx.Client], path: str) -> None:
    answer = login("sam").get(path)
    assert answer.status_code == 200
    assert "default-src 'none'" in answer.headers["content-security-policy"]
    assert answer.headers["cache-control"] == "no-store"


def test_an_embedded_attachment_downloads_from_the_page_links(
    site: Site, login: Callable[[str], httpx.Client]
) -> None:
    client = login("sam")
    document = client.get(f"/web/outbound/{site.attached_id}")
    link = f"/web/outbound/{site.attached_id}/attachments/0"
    assert link in document.text  # the rendered invoice links to the page route, not to the API
    answer = client.get(link)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/pdf"
    assert answer.content.startswith(b"%PDF")
    assert answer.headers["content-security-policy"] == "sandbox"
    # Named as the API names it (gateway.render.file_names), the exact name beside the ASCII one.
    assert answer.headers["content-disposition"] == (
        "attachment; filename=\"prestatiestaat-2026-10.pdf\"; filename*=UTF-8''prestatiestaat-2026-10.pdf"
    )
    assert client.get(f"/web/outbound/{site.attached_id}/attachments/9").status_code == 404


def test_cookies_are_secure_outside_the_development_stage(
    site: Site, validation_engine: ValidationEngine, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'prod.db'}"
    upgrade_database(url)
    settings = site.services.settings.model_copy(
        update={"truststore": TruststoreSettings(stage="test"), "database": DatabaseSettings(url=url)}
    )
    store = SQLDocumentStore.from_url(url)
    save_account(SQLPeopleStore(store.engine), "sam", Role.SUPPORT, [], PASSWORD, clock=site.services.clock)
    services = Services(settings=settings, validation=validation_engine, store=store)
    with TestClient(
        create_app(settings, services=services, warm=False), base_url="https://gw.test"
    ) as client:
        form_page = client.get("/web/login")
        assert "secure" in form_page.headers["set-cookie"].lower()
        token = re.search(r'name="csrf_token" value="([^"]+)"', form_page.text)
        assert token
        answer = client.post(
            "/web/login",
            data={"csrf_token": token.group(1), "name": "sam", "password": PASSWORD},
            follow_redirects=False,
        )
        session_cookie = answer.headers["set-cookie"]
        assert session_cookie.startswith("gw_session=")
        assert "Secure" in session_cookie
        assert "HttpOnly" in session_cookie
        # The language the header's switcher keeps (gateway.web.login_routes.language).
        chosen = client.get("/web/language?lang=nl&next=/web/login", follow_redirects=False)
        assert chosen.status_code == 303
        assert chosen.headers["set-cookie"].startswith("gw_lang=nl;")
        assert "Secure" in chosen.headers["set-cookie"]
    services.close()


def test_only_local_pages_are_login_destinations() -> None:
    assert _safe_next("/web/outbound?status=failed") == "/web/outbound?status=failed"
    for hostile in ("https://evil.example/", "//evil.example/web/", "/web\\\\evil", "/v1/outbound", None):
        assert _safe_next(hostile) == "/web/"


def test_plain_words_for_ebms_codes_and_discovery_outcomes() -> None:
    assert "decrypt" in (plain_reason("EBMS:0102: FailedDecryption") or "")
    assert "not registered" in (plain_reason("not-registered: 0208:0123 has no SMP entry") or "")
    assert plain_reason("EBMS:0004", "EBMS:0301") == EBMS_ERRORS["EBMS:0301"]
    assert plain_reason("something else") is None


def test_the_outbound_search_pages_with_next_and_first_links(
    site: Site, login: Callable[[str], httpx.Client]
) -> None:
    client = login("sam")
    seen: list[str] = []
    path: str | None = "/web/outbound?size=1"
    while path is not None:
        listing = client.get(path.replace("&amp;", "&"))
        assert listing.status_code == 200
        seen += re.findall(r'<a href="/web/outbound/([0-9a-f-]{36})">', listing.text)
        following = re.search(r'<a href="([^"]+)">Next page</a>', listing.text)
        if len(seen) > 1:
            assert "First page" in listing.text
        path = following.group(1) if following else None
    assert len(seen) == len(set(seen)) == 3  # every document once, newest first
    assert seen[-1] == site.failed_id  # submitted first


@pytest.mark.parametrize(
    "cursor",
    ["0001-01-01T00:00:00+01:00|x", "9999-12-31T23:59:59-23:59|x", "2026-01-01T00:00:00+00:00|" + "x" * 300],
)
def test_a_page_link_naming_no_instant_is_a_422_page_not_a_500(
    login: Callable[[str], httpx.Client], cursor: str
) -> None:
    """A crafted cursor whose time has no UTC instant (or that is far too long) is refused as the API's is."""
    member, support = login("mia"), login("sam")
    for client, path in (
        (member, "/web/expenses"),
        (support, "/web/triage"),
        (support, "/web/outbound"),
        (support, "/web/inbound"),
    ):
        answer = client.get(path, params={"cursor": cursor})
        assert answer.status_code == 422, (path, answer.status_code)
        assert "page link is not valid" in answer.text


def test_an_unexpected_error_is_a_500_page_with_an_error_id_and_no_detail(
    site: Site, login: Callable[[str], httpx.Client], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr("gateway.web.document_routes.list_inbound", broken)
    answer = login("sam").get("/web/inbound")
    assert answer.status_code == 500
    assert answer.headers["content-type"].startswith("text/html")
    assert re.search(r"error id [0-9a-f]{12}", answer.text)
    assert "secret internal detail" not in answer.text


def test_query_answer_approve_and_pay_through_the_page_forms(
    site: Site, login: Callable[[str], httpx.Client]
) -> None:
    member, support = login("mia"), login("sam")
    path = f"/web/expenses/{site.routed_expense}"

    def act(client: httpx.Client, action: str, **fields: str) -> str:
        answer = client.post(f"{path}/{action}", data={"csrf_token": csrf_of(client, path), **fields})
        assert answer.status_code == 303, answer.text
        return client.get(answer.headers["location"]).text

    asked = act(member, "query", question="Which order is this for?")
    assert "Question recorded" in asked
    assert "The supplier is told through Peppol (Invoice Response UQ)" in asked
    assert "mark-paid" not in member.get(path).text  # members neither answer nor pay
    assert "answer is recorded" in act(support, "answer", answer="Order 4500012345")
    assert "Approved" in act(member, "approve")
    shown = act(support, "mark-paid")
    assert "Marked as paid" in shown
    assert re.search(r'status-paid">paid<', shown)
    assert "/approve" not in shown  # a paid expense offers no more actions
    assert "/mark-paid" not in shown


def test_a_private_person_shows_as_an_email_receiver_and_its_retry_says_e_mail(
    site: Site, login: Callable[[str], httpx.Client]
) -> None:
    # Last in this module: it adds a document to the shared site.
    posted = httpx.post(
        f"{site.url}/v1/outbound/invoices",
        content=(DOCUMENTS / "private-person.json").read_bytes(),
        headers={**auth("sender"), "Content-Type": "application/json"},
    )
    assert posted.status_code == 202, posted.text
    document_id = posted.json()["id"]
    _move(site.services.store, document_id, DeliveryEvent.PERMANENT_FAILURE, reason="no-email-relay: test")
    client = login("sam")
    page = client.get(f"/web/outbound/{document_id}").text
    assert "<dd>lies.vermeulen@mail.example (by e-mail: no Peppol id)</dd>" in page
    found = client.get("/web/outbound", params={"receiver": "EM:Lies.Vermeulen@mail.example"}).text
    assert document_id in found
    retry = client.get(f"/web/outbound/{document_id}/retry").text
    assert "e-mail the document again to lies.vermeulen@mail.example" in retry
    assert "AS4 message" not in retry


@pytest.mark.parametrize("method", ["GET", "HEAD", "POST", "PROPFIND"])
def test_web_without_its_slash_goes_to_the_pages_by_a_relative_address(site: Site, method: str) -> None:
    """The router's own slash redirect named the client's ``Host`` header in an absolute Location."""
    answer = httpx.request(
        method, f"{site.url}/web", headers={"Host": "evil.example"}, follow_redirects=False
    )
    assert (answer.status_code, answer.headers["location"]) == (307, "/web/")


def test_a_document_the_renderer_fails_on_is_said_on_its_page_with_an_error_id(
    site: Site,
    login: Callable[[str], httpx.Client],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An unexpected exception out of the renderer made the whole document page (timeline, retry) a 500."""
    import gateway.render.html

    def failing(*_args: object, **_kwargs: object) -> str:
        raise IndexError("a row of 'Jörg Peeters'")

    monkeypatch.setattr(gateway.render.html, "render_fragment", failing)
    with caplog.at_level(logging.ERROR, logger="gateway.web"):
        page = login("sam").get(f"/web/outbound/{site.attached_id}")
    assert page.status_code == 200
    assert "This document cannot be shown:" in page.text
    assert "Jörg" not in page.text
    error_id = re.search(r"error id ([0-9a-f]{32})", page.text)
    assert error_id is not None, page.text
    (record,) = [r for r in caplog.records if site.attached_id in r.getMessage()]
    assert error_id.group(1) in record.getMessage()
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], IndexError)


def test_an_invoice_and_a_credit_note_posted_as_ubl_under_one_number_are_told_apart_in_the_list(
    site: Site, login: Callable[[str], httpx.Client]
) -> None:
    # Both posted as UBL: their kind is "ubl" alike, so the Kind column also names the document type.
    number = "WEB-KIND-0001"
    with site.services.store.unit_of_work() as uow:
        for document_type in (BIS_INVOICE, BIS_CREDIT_NOTE):
            document = replace(
                outbound(number=number, seller=str(COOP)), kind=DocumentKind.UBL, document_type=document_type
            )
            uow.outbound.add(document, content())
        uow.commit()
    found = login("sam").get("/web/outbound", params={"number": number})
    assert found.status_code == 200
    kinds = re.findall(rf">{number}</a></td>\s*<td>([^<]*)</td>", found.text)
    assert sorted(kinds) == ["UBL (CreditNote)", "UBL (Invoice)"]


def test_a_refused_retry_of_a_response_with_a_later_one_queued_says_why_in_the_persons_language(
    site: Site, login: Callable[[str], httpx.Client], monkeypatch: pytest.MonkeyPatch
) -> None:
    def refused(_self: object, document_id: str, *, requested_by: str) -> None:
        raise LaterResponseQueued(DeliveryStatus.FAILED, DeliveryEvent.RETRY_REQUESTED, document_id, "later")

    monkeypatch.setattr(OutboundSubmitter, "request_retry", refused)  # a frozen dataclass
    client = login("sam")
    path = f"/web/outbound/{site.failed_id}/retry"
    answer = client.post(path, data={"csrf_token": csrf_of(client, path)}, headers={"Accept-Language": "fr"})
    assert answer.status_code == 409
    assert "Une réponse ultérieure à la même facture reçue" in html.unescape(answer.text)
