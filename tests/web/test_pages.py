"""The pages over real HTTP (httpx against uvicorn on loopback): sessions, CSRF, the login rate limit,
roles and error pages. The browser suite (test_browser.py) walks the same pages as a person does."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import httpx
import pytest
from conftest import FAILED_NUMBER, PASSWORD, Site

from gateway.config import Role
from gateway.web.people import save_account


def _login_token(client: httpx.Client) -> str:
    page = client.get("/web/login")
    assert page.status_code == 200
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found
    return found.group(1)


@pytest.fixture(name="new_client")
def new_client_fixture(site: Site) -> Iterator[Callable[[], httpx.Client]]:
    """Makes HTTP clients of the site, each with its own cookies; closes them after the test."""
    made: list[httpx.Client] = []

    def make() -> httpx.Client:
        made.append(httpx.Client(base_url=site.url, follow_redirects=False))
        return made[-1]

    yield make
    for client in made:
        client.close()


@pytest.fixture(name="login")
def login_fixture(new_client: Callable[[], httpx.Client]) -> Callable[[str], httpx.Client]:
    """Logs a person in; the client holds the session cookie."""

    def log_in(name: str) -> httpx.Client:
        client = new_client()
        token = _login_token(client)
        answer = client.post("/web/login", data={"csrf_token": token, "name": name, "password": PASSWORD})
        assert answer.status_code == 303, answer.text
        return client

    return log_in


def csrf_of(client: httpx.Client, path: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text)
    assert found
    return found.group(1)


def test_the_session_cookie_is_httponly_samesite_lax_and_opaque(
    new_client: Callable[[], httpx.Client],
) -> None:
    client = new_client()
    token = _login_token(client)
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
    token = _login_token(client)
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
    assert "No document matches" in client.get("/web/outbound", params={"number": "nope"}).text
    assert client.get("/web/outbound/00000000-0000-0000-0000-000000000000").status_code == 404
    assert client.get("/web/no-such-page").status_code == 404
    assert client.get("/web/outbound", params={"status": "bogus"}).status_code == 422
    assert client.get("/web/outbound", params={"cursor": "garbage"}).status_code == 422


def test_logout_ends_the_session(site: Site, login: Callable[[str], httpx.Client]) -> None:
    client = login("sam")
    token = csrf_of(client, "/web/outbound")
    assert client.post("/web/logout", data={"csrf_token": token}).status_code == 303
    assert client.get("/web/outbound").status_code == 303  # back to the login page


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
    assert client.get(f"/web/outbound/{site.attached_id}/attachments/9").status_code == 404
