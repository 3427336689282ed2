"""The language switcher: every page's header (the login page's too) offers English, French and Dutch, each
named in its own language; choosing one keeps it in a cookie that wins over the browser's Accept-Language,
and goes back to the page it was chosen on - a local /web page only, never another site."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from conftest import Site

COOKIE = "gw_lang"


def _language_cookie(answer: httpx.Response) -> str:
    found = [v for k, v in answer.headers.multi_items() if k == "set-cookie" and v.startswith(f"{COOKIE}=")]
    assert len(found) == 1, answer.headers
    return found[0]


def _way_back(switcher: str, code: str) -> str:
    """Where the switcher's link choosing ``code`` comes back to."""
    found = re.search(rf'<a href="([^"]+)" lang="{code}"', switcher)
    assert found, switcher
    address = urlsplit(found.group(1))
    assert address.path == "/web/language"
    query = parse_qs(address.query)
    assert query["lang"] == [code]
    return query["next"][0]


def _switcher(text: str) -> str:
    found = re.search(r'<nav class="langs"[^>]*>(.*?)</nav>', text, re.S)
    assert found, text
    return found.group(1)


def test_choosing_a_language_sets_the_cookie_and_goes_back(site: Site) -> None:
    with httpx.Client(base_url=site.url) as client:
        answer = client.get("/web/language", params={"lang": "fr", "next": "/web/outbound?status=failed"})
    assert answer.status_code == 303
    assert answer.headers["location"] == "/web/outbound?status=failed"
    cookie = _language_cookie(answer)
    assert cookie.startswith(f"{COOKIE}=fr;")
    assert "samesite=lax" in cookie.lower()
    assert "HttpOnly" in cookie
    assert "Path=/web" in cookie
    assert "Max-Age=" in cookie
    assert answer.headers["cache-control"] == "no-store"


@pytest.mark.parametrize(
    "hostile", ["https://evil.example/", "//evil.example/web/", "/web\\evil", "/v1/outbound", ""]
)
def test_the_way_back_is_a_local_page_only(site: Site, hostile: str) -> None:
    with httpx.Client(base_url=site.url) as client:
        answer = client.get("/web/language", params={"lang": "nl", "next": hostile})
    assert answer.status_code == 303
    assert answer.headers["location"] == "/web/"
    assert _language_cookie(answer).startswith(f"{COOKIE}=nl;")


def test_an_unknown_language_is_refused_and_sets_nothing(site: Site) -> None:
    with httpx.Client(base_url=site.url) as client:
        answer = client.get("/web/language", params={"lang": "de", "next": "/web/login"})
    assert answer.status_code == 422
    assert not [k for k, v in answer.headers.multi_items() if k == "set-cookie" and v.startswith(COOKIE)]


def test_the_chosen_language_wins_over_accept_language(site: Site) -> None:
    with httpx.Client(base_url=site.url, headers={"Accept-Language": "fr-BE,fr;q=0.9"}) as client:
        assert "<h1>Se connecter</h1>" in client.get("/web/login").text
        client.get("/web/language", params={"lang": "nl", "next": "/web/login"})
        page = client.get("/web/login")
        assert '<html lang="nl">' in page.text
        assert "<h1>Inloggen</h1>" in page.text
        # ?lang= in the address still speaks for its own page, and leaves the choice as it was
        assert "<h1>Log in</h1>" in client.get("/web/login?lang=en").text
        assert "<h1>Inloggen</h1>" in client.get("/web/login").text


def test_a_cookie_of_no_language_falls_back_to_accept_language(site: Site) -> None:
    with httpx.Client(base_url=site.url, cookies={COOKIE: "xx"}) as client:
        page = client.get("/web/login", headers={"Accept-Language": "fr"})
    assert "<h1>Se connecter</h1>" in page.text


def test_the_login_page_offers_the_three_languages_in_their_own_words(site: Site) -> None:
    with httpx.Client(base_url=site.url) as client:
        page = client.get("/web/login?next=/web/expenses", headers={"Accept-Language": "fr"})
    switcher = html.unescape(_switcher(page.text))
    for code, name in (("en", "English"), ("fr", "Français"), ("nl", "Nederlands")):
        assert re.search(rf'<a [^>]*lang="{code}" hreflang="{code}"[^>]*>{name}</a>', switcher), switcher
    assert switcher.count("aria-current") == 1
    assert re.search(r'<a [^>]*lang="fr"[^>]*aria-current="true"', switcher)
    # each goes back to this very page, its own next kept
    assert _way_back(switcher, "nl") == "/web/login?next=%2Fweb%2Fexpenses"
    assert 'aria-label="Langue"' in page.text


def test_every_page_of_a_person_has_the_switcher(login: Callable[[str], httpx.Client]) -> None:
    client = login("mia")
    client.cookies.set(COOKIE, "nl", path="/web")
    page = client.get("/web/expenses?lang=fr&status=to_approve")
    switcher = html.unescape(_switcher(page.text))
    assert re.search(r'<a [^>]*lang="fr"[^>]*aria-current="true"', switcher)
    # the way back leaves ?lang= out: it would speak over the choice just made
    assert _way_back(switcher, "en") == "/web/expenses?status=to_approve"
    missing = client.get("/web/nothing-here")
    assert missing.status_code == 404
    assert '<nav class="langs"' in missing.text


def test_the_role_label_follows_french_typography(login: Callable[[str], httpx.Client]) -> None:
    client = login("mia")
    french = html.unescape(client.get("/web/expenses", headers={"Accept-Language": "fr"}).text)
    assert "(membre : PU04711)" in french
    dutch = html.unescape(client.get("/web/expenses", headers={"Accept-Language": "nl"}).text)
    assert "(lid: PU04711)" in dutch
    english = html.unescape(client.get("/web/expenses").text)
    assert "(member: PU04711)" in english


@pytest.mark.parametrize(
    ("person", "lang", "location"),
    [
        ("sam", "fr", "/web/outbound?lang=fr"),
        ("mia", "nl-BE", "/web/expenses?lang=nl"),
        ("sam", "de", "/web/outbound"),
        ("sam", "fr-//evil.example/", "/web/outbound?lang=fr"),
        ("mia", "https://evil.example/", "/web/expenses"),
    ],
)
def test_the_home_page_keeps_the_language_of_its_address(
    login: Callable[[str], httpx.Client], person: str, lang: str, location: str
) -> None:
    # The walk found /web/?lang=fr landing on the English start page: ?lang= speaks for one page, and the
    # home page's redirect left it behind. Only a language of the pages goes along, as its code.
    client = login(person)
    answer = client.get("/web/", params={"lang": lang})
    assert answer.status_code == 303
    assert answer.headers["location"] == location
    if location.endswith("lang=fr"):
        assert '<html lang="fr">' in client.get(location).text


@pytest.mark.parametrize(
    ("lang", "location"), [("fr", "/web/?lang=fr"), ("nl_BE", "/web/?lang=nl"), ("xx", "/web/")]
)
def test_web_without_its_slash_keeps_the_language_too(site: Site, lang: str, location: str) -> None:
    answer = httpx.get(f"{site.url}/web", params={"lang": lang}, follow_redirects=False)
    assert (answer.status_code, answer.headers["location"]) == (307, location)
