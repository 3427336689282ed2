"""Accounts over real HTTP (httpx against uvicorn on loopback): an admin adds, changes, deactivates and
resets accounts; nobody else may; every person changes their own password; a refused change is said on
the same page, in the person's language, and changes nothing."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from conftest import PASSWORD, Site, csrf_of, login_token

from gateway.config import Role
from gateway.web.accounts import save_account
from gateway.web.passwords import hash_password, verify_password
from gateway.web.people import PasswordAuthenticator

NEW_PASSWORD = "a brand new passphrase"


def _log_in(client: httpx.Client, name: str, password: str) -> httpx.Response:
    token = login_token(client)
    return client.post("/web/login", data={"csrf_token": token, "name": name, "password": password})


def _post(client: httpx.Client, path: str, form_page: str, **fields: str) -> httpx.Response:
    return client.post(path, data={"csrf_token": csrf_of(client, form_page), **fields})


def _alert(answer: httpx.Response) -> str:
    found = re.search(r'role="alert">([^<]*)<', answer.text)
    assert found, answer.text
    return found.group(1)


def _add(
    admin: httpx.Client, name: str, role: str = "member", units: str = "pu 04711", **extra: str
) -> httpx.Response:
    fields = {"name": name, "role": role, "units": units, "password": PASSWORD, "again": PASSWORD, **extra}
    return _post(admin, "/web/people", "/web/people", **fields)


def test_an_admin_adds_a_member_who_then_logs_in_to_their_unit(
    site: Site, login: Callable[[str], httpx.Client], new_client: Callable[[], httpx.Client]
) -> None:
    admin = login("ada")
    answer = _add(admin, "nora", units="pu 04711")
    assert answer.status_code == 303, _alert(answer)
    assert answer.headers["location"] == "/web/person?name=nora&done=created"
    shown = admin.get(answer.headers["location"])
    assert "The account is created" in shown.text
    assert 'value="PU-04711"' in shown.text
    stored = site.people.get_person("nora")
    assert stored is not None
    assert stored.role == "member"
    assert stored.units == {"PU04711"}
    assert PASSWORD not in stored.password_hash
    listing = admin.get("/web/people").text
    assert "nora" in listing
    assert "PU-04711" in listing
    member = new_client()
    assert _log_in(member, "nora", PASSWORD).status_code == 303
    assert member.get("/web/expenses").status_code == 200
    assert member.get("/web/people").status_code == 403


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": "mia"}, "An account named mia exists already."),
        ({"units": "PU-99999"}, "These units do not exist: PU99999."),
        ({"units": ""}, "A member needs at least one unit."),
        ({"units": "!!"}, "!! is not a unit code (letters, then digits: PU-00123)."),
        ({"role": "sender"}, "People are support, admin or member, not sender."),
        ({"role": "boss"}, "People are support, admin or member, not boss."),
        ({"password": "short", "again": "short"}, "A password needs at least 12 characters."),
        ({"again": "something else entirely"}, "The two new passwords differ."),
        ({"name": "   "}, "A name has 1 to 200 printable characters."),
    ],
)
def test_a_refused_account_is_said_on_the_form_and_nothing_changes(
    site: Site, login: Callable[[str], httpx.Client], fields: dict[str, str], message: str
) -> None:
    before = {person.name: person for person in site.people.list_people()}
    answer = _add(login("ada"), **{"name": "olga", **fields})
    assert answer.status_code == 422
    assert _alert(answer) == message.replace("'", "&#39;")
    assert {person.name: person for person in site.people.list_people()} == before
    assert PASSWORD not in answer.text  # what was typed comes back, never a password
    assert f'value="{fields.get("name", "olga")}"' in answer.text


def test_only_admins_see_and_change_accounts(site: Site, login: Callable[[str], httpx.Client]) -> None:
    for name in ("sam", "mia"):
        client = login(name)
        for path in ("/web/people", "/web/person?name=mia"):
            assert client.get(path).status_code == 403
        token = csrf_of(client, "/web/expenses")
        refused = client.post("/web/person/change", data={"csrf_token": token, "name": name, "role": "admin"})
        assert refused.status_code == 403
        assert "Only admins manage accounts." in refused.text
    assert site.people.get_person("sam").role == "support"  # type: ignore[union-attr]
    assert site.people.get_person("mia").role == "member"  # type: ignore[union-attr]


def test_a_form_without_its_csrf_token_changes_nothing(
    site: Site, login: Callable[[str], httpx.Client]
) -> None:
    admin = login("ada")
    answer = admin.post("/web/person/change", data={"name": "max", "role": "admin", "units": ""})
    assert answer.status_code == 403
    assert site.people.get_person("max").role == "member"  # type: ignore[union-attr]


def test_deactivating_ends_the_persons_sessions_and_logins(
    site: Site, login: Callable[[str], httpx.Client], new_client: Callable[[], httpx.Client]
) -> None:
    save_account(site.people, "pia", Role.MEMBER, ["PU-00123"], PASSWORD, clock=site.services.clock)
    pia = login("pia")
    assert pia.get("/web/expenses").status_code == 200
    admin = login("ada")
    fields = {"name": "pia", "role": "member", "units": "PU-00123"}  # no "active": the box is unticked
    answer = _post(admin, "/web/person/change", "/web/person?name=pia", **fields)
    assert answer.status_code == 303
    assert "deactivated" in admin.get("/web/people").text
    assert pia.get("/web/expenses").headers["location"].startswith("/web/login")
    assert _log_in(new_client(), "pia", PASSWORD).status_code == 401
    _post(admin, "/web/person/change", "/web/person?name=pia", active="on", **fields)
    assert _log_in(new_client(), "pia", PASSWORD).status_code == 303


def test_a_role_change_applies_to_the_open_session(site: Site, login: Callable[[str], httpx.Client]) -> None:
    save_account(site.people, "rob", Role.MEMBER, ["PU-04711"], PASSWORD, clock=site.services.clock)
    rob = login("rob")
    assert rob.get("/web/outbound").status_code == 403
    admin = login("ada")
    fields = {"name": "rob", "role": "support", "units": "", "active": "on"}
    answer = _post(admin, "/web/person/change", "/web/person?name=rob", **fields)
    assert answer.status_code == 303
    assert rob.get("/web/outbound").status_code == 200
    assert site.people.get_person("rob").units == frozenset()  # type: ignore[union-attr]


@pytest.mark.parametrize("fields", [{"role": "support", "active": "on"}, {"role": "admin"}])
def test_an_admin_cannot_demote_or_deactivate_themselves(
    site: Site, login: Callable[[str], httpx.Client], fields: dict[str, str]
) -> None:
    admin = login("ada")
    answer = _post(admin, "/web/person/change", "/web/person?name=ada", name="ada", units="", **fields)
    assert answer.status_code == 422
    assert "another admin can" in _alert(answer)
    stored = site.people.get_person("ada")
    assert stored is not None
    assert stored.role == "admin"
    assert stored.active
    assert admin.get("/web/people").status_code == 200


def test_an_admins_reset_ends_the_persons_sessions(
    site: Site, login: Callable[[str], httpx.Client], new_client: Callable[[], httpx.Client]
) -> None:
    save_account(site.people, "tim", Role.SUPPORT, [], PASSWORD, clock=site.services.clock)
    tim = login("tim")
    admin = login("ada")
    page = "/web/person?name=tim"
    mismatch = _post(admin, "/web/person/password", page, name="tim", password=NEW_PASSWORD, again=PASSWORD)
    assert mismatch.status_code == 422
    assert _alert(mismatch) == "The two new passwords differ."
    assert tim.get("/web/outbound").status_code == 200
    answer = _post(admin, "/web/person/password", page, name="tim", password=NEW_PASSWORD, again=NEW_PASSWORD)
    assert answer.status_code == 303
    assert tim.get("/web/outbound").status_code == 303  # sent to the login page
    assert _log_in(new_client(), "tim", PASSWORD).status_code == 401
    assert _log_in(new_client(), "tim", NEW_PASSWORD).status_code == 303


def test_a_person_changes_their_own_password(
    site: Site, login: Callable[[str], httpx.Client], new_client: Callable[[], httpx.Client]
) -> None:
    save_account(site.people, "una", Role.MEMBER, ["PU-00123"], PASSWORD, clock=site.services.clock)
    una, elsewhere = login("una"), login("una")
    assert "PU-00123" in una.get("/web/account").text
    wrong = _post(
        una,
        "/web/account/password",
        "/web/account",
        current="not it at all",
        password=NEW_PASSWORD,
        again=NEW_PASSWORD,
    )
    assert wrong.status_code == 422
    assert _alert(wrong) == "The current password is wrong."
    assert _log_in(new_client(), "una", PASSWORD).status_code == 303  # unchanged
    answer = _post(
        una,
        "/web/account/password",
        "/web/account",
        current=PASSWORD,
        password=NEW_PASSWORD,
        again=NEW_PASSWORD,
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/web/account?done=own-password"
    assert una.get("/web/account").status_code == 200  # this browser got a new session
    assert elsewhere.get("/web/account").status_code == 303  # the other one ended
    assert _log_in(new_client(), "una", PASSWORD).status_code == 401
    assert _log_in(new_client(), "una", NEW_PASSWORD).status_code == 303


def test_a_refusal_is_said_in_the_persons_language(login: Callable[[str], httpx.Client]) -> None:
    admin = login("ada")
    admin.headers["accept-language"] = "fr-BE,fr;q=0.9"
    answer = _add(admin, "mia")
    assert answer.status_code == 422
    assert _alert(answer) == "Un compte nommé mia existe déjà."
    assert "Ajouter un compte" in answer.text
    assert admin.get("/web/person?name=nobody").status_code == 404


def test_guessing_the_current_password_meets_the_login_rate_limit(
    site: Site, login: Callable[[str], httpx.Client]
) -> None:
    save_account(site.people, "zed", Role.SUPPORT, [], PASSWORD, clock=site.services.clock)
    zed = login("zed")
    limit = site.services.settings.web.login_max_failures
    fields = {"password": NEW_PASSWORD, "again": NEW_PASSWORD}
    for _ in range(limit):
        guess = _post(zed, "/web/account/password", "/web/account", current="a wrong guess", **fields)
        assert guess.status_code == 422
    refused = _post(zed, "/web/account/password", "/web/account", current=PASSWORD, **fields)
    assert refused.status_code == 429  # even the right password, until the window has passed
    assert "Too many failed logins" in refused.text
    stored = site.people.get_person("zed")
    assert stored is not None
    assert verify_password(stored.password_hash, PASSWORD)  # unchanged


def test_a_form_with_a_nul_character_is_refused_before_the_database(
    site: Site, login: Callable[[str], httpx.Client], new_client: Callable[[], httpx.Client]
) -> None:
    """PostgreSQL refuses a NUL in a text (a 500 for the login name or an account's name); no browser types
    one, so any form holding one is refused with a clear message."""
    client = new_client()
    token = login_token(client)
    refused = client.post("/web/login", data={"csrf_token": token, "name": "ada\x00", "password": PASSWORD})
    assert refused.status_code == 422
    assert "NUL" in refused.text
    admin = login("ada")
    fields = {"name": "mia\x00", "role": "admin", "units": "", "active": "on"}
    answer = _post(admin, "/web/person/change", "/web/person?name=mia", **fields)
    assert answer.status_code == 422
    assert "NUL" in answer.text
    assert site.people.get_person("mia").role == "member"  # type: ignore[union-attr]


def test_a_login_checked_before_a_password_change_gets_no_session(
    site: Site, new_client: Callable[[], httpx.Client], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The new password is set while argon2 checks the old one (a thief logging in again and again): the
    change has ended the open sessions, and this login must not open one after it."""
    save_account(site.people, "vic", Role.SUPPORT, [], PASSWORD, clock=site.services.clock)
    checked = PasswordAuthenticator.authenticate

    def meanwhile_changed(self: PasswordAuthenticator, name: str, password: str, **kw: Any) -> Any:
        person = checked(self, name, password, **kw)
        site.people.set_password_hash(name, hash_password(NEW_PASSWORD), at=site.services.clock.now())
        return person

    monkeypatch.setattr(PasswordAuthenticator, "authenticate", meanwhile_changed)
    thief = new_client()
    answer = _log_in(thief, "vic", PASSWORD)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/web/login")
    assert thief.get("/web/outbound").status_code == 303  # no live session


def test_a_form_that_is_not_utf8_is_refused_not_mangled(
    site: Site, login: Callable[[str], httpx.Client]
) -> None:
    """Bytes that are no UTF-8 would become U+FFFD: another name than typed, or a password that other
    bytes match too."""
    admin = login("ada")
    token = csrf_of(admin, "/web/people")
    fields = f"name=ol%FFga&role=support&units=&password={PASSWORD}&again={PASSWORD}"
    for body in (f"csrf_token={token}&{fields}".encode(), f"csrf_token={token}&".encode() + b"name=ol\xffga"):
        answer = admin.post(
            "/web/people", content=body, headers={"content-type": "application/x-www-form-urlencoded"}
        )
        assert answer.status_code == 422
        assert "UTF-8" in answer.text
    assert [p.name for p in site.people.list_people() if p.name.startswith("ol")] == []


def test_a_login_being_checked_does_not_hold_the_other_requests(
    site: Site, new_client: Callable[[], httpx.Client], monkeypatch: pytest.MonkeyPatch
) -> None:
    """argon2 and the store run off the event loop: while one login is being checked, the API answers."""
    checking, release = threading.Event(), threading.Event()
    authenticate = PasswordAuthenticator.authenticate

    def slow(self: PasswordAuthenticator, name: str, password: str, *, source: str | None = None) -> Any:
        checking.set()
        release.wait(timeout=30)
        return authenticate(self, name, password, source=source)

    monkeypatch.setattr(PasswordAuthenticator, "authenticate", slow)
    client = new_client()
    token = login_token(client)
    form = {"csrf_token": token, "name": "ada", "password": PASSWORD}
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(client.post, "/web/login", data=form)
        assert checking.wait(timeout=30)
        try:
            assert httpx.get(f"{site.url}/healthz", timeout=10).status_code == 200  # not held by the login
        finally:
            release.set()
        assert pending.result(timeout=30).status_code == 303
