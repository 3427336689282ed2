"""The language switcher in a real browser (Debian's chromium driven by Playwright, as ``test_browser``): a
person whose browser asks for English picks French on the login page, logs in, and the pages stay French
from page to page until Dutch is picked, on the same page."""

from __future__ import annotations

import re

import pytest
from conftest import PASSWORD
from test_browser import Page, browser, expect, page, shot  # noqa: F401 - fixtures

pytestmark = pytest.mark.browser


def test_the_chosen_language_stays_from_page_to_page(
    page: Page,  # noqa: F811 - the fixture
) -> None:
    page.goto("/web/expenses")
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    switcher = page.get_by_role("navigation", name="Language")
    expect(switcher.get_by_role("link", name="English")).to_have_attribute("aria-current", "true")
    switcher.get_by_role("link", name="Français").click()
    expect(page.get_by_role("heading", name="Se connecter")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/web/login\?next=%2Fweb%2Fexpenses$"))
    page.get_by_label("Nom").fill("mia")
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("heading", name="Dépenses")).to_be_visible()
    expect(page.get_by_text("(membre : PU04711)")).to_be_visible()
    shot(page, "40-language-fr")
    page.get_by_role("link", name="mia").click()  # another page: still French
    expect(page.get_by_role("button", name="Se déconnecter")).to_be_visible()
    page.get_by_role("navigation", name="Langue").get_by_role("link", name="Nederlands").click()
    expect(page).to_have_url(re.compile(r"/web/account$"))
    expect(page.get_by_role("button", name="Uitloggen")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "nl")
