"""An outbound Invoice Response's page and retry confirmation over real HTTP: the retry is offered only as
``request_retry`` allows it (not for a failed response with a later one queued after it, which the page names
instead), and a response waiting behind an earlier one says which, in the person's language."""

from __future__ import annotations

import html
from collections.abc import Callable

import httpx
import pytest
from conftest import Site, _move

from gateway.model.message import DeliveryEvent
from gateway.web.i18n import translate
from gateway.web.pages import LATER_RESPONSE_QUEUED
from tests.contract.store_builders import invoice_responses, new_id

LANGUAGES = ["en", "fr", "nl"]
WAITING = (
    "Not sent yet: it waits for the earlier response to the same received invoice until that one is delivered"
    " or has failed for good (the supplier gets the statuses in order)."
)


def _responses(site: Site, count: int) -> list[str]:
    """``count`` Invoice Responses to one received document, each queued behind the one before it."""
    with site.services.store.unit_of_work() as uow:
        queued = invoice_responses(uow, new_id(), count)
        uow.commit()
    return queued


def _fail(site: Site, document_id: str) -> None:
    events = (DeliveryEvent.SEND_STARTED, DeliveryEvent.PERMANENT_FAILURE)
    _move(site.services.store, document_id, *events, reason="EBMS:0004: refused")


def _text(client: httpx.Client, path: str, language: str) -> str:
    answer = client.get(path, headers={"Accept-Language": language})
    assert answer.status_code == 200, answer.text
    return html.unescape(answer.text)


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_failed_response_with_a_later_one_queued_is_not_offered_for_retry_and_the_page_names_it(
    site: Site, login: Callable[[str], httpx.Client], language: str
) -> None:
    ab, ap = _responses(site, 2)
    (alone,) = _responses(site, 1)
    _fail(site, ab)
    _fail(site, alone)
    client = login("sam")

    shown = _text(client, f"/web/outbound/{ab}", language)
    assert f'href="/web/outbound/{ab}/retry"' not in shown
    assert translate(language, LATER_RESPONSE_QUEUED) in shown
    assert f'{translate(language, "The later response:")} <a href="/web/outbound/{ap}">' in shown
    # The confirmation step offers no button either: it says why.
    confirm = _text(client, f"/web/outbound/{ab}/retry", language)
    assert 'type="submit">' + translate(language, "Yes, retry the delivery") not in confirm
    assert f'action="/web/outbound/{ab}/retry"' not in confirm
    assert translate(language, LATER_RESPONSE_QUEUED) in confirm
    assert f'<a href="/web/outbound/{ap}">' in confirm

    # A failed response with no later one is offered, as any failed document.
    assert f'href="/web/outbound/{alone}/retry"' in _text(client, f"/web/outbound/{alone}", language)
    confirm = _text(client, f"/web/outbound/{alone}/retry", language)
    assert f'action="/web/outbound/{alone}/retry"' in confirm
    assert translate(language, LATER_RESPONSE_QUEUED) not in confirm


def test_the_confirmation_of_a_document_whose_status_allows_no_retry_offers_no_button(
    site: Site, login: Callable[[str], httpx.Client]
) -> None:
    confirm = _text(login("sam"), f"/web/outbound/{site.delivered_id}/retry", "fr")
    assert f'action="/web/outbound/{site.delivered_id}/retry"' not in confirm
    assert translate("fr", "This document's status does not allow a retry.") in confirm


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_response_waiting_for_an_earlier_one_names_it_while_it_waits(
    site: Site, login: Callable[[str], httpx.Client], language: str
) -> None:
    ab, ap = _responses(site, 2)
    client = login("sam")
    waiting = f'{translate(language, "The earlier response:")} <a href="/web/outbound/{ab}">'

    shown = _text(client, f"/web/outbound/{ap}", language)
    assert translate(language, WAITING) in shown
    assert waiting in shown
    assert 'id="waiting-for"' not in _text(client, f"/web/outbound/{ab}", language)
    # AB delivered: AP waits no more (it goes at its next attempt).
    events = (DeliveryEvent.SEND_STARTED, DeliveryEvent.RECEIPT_RECEIVED)
    _move(site.services.store, ab, *events, reason="receipt")
    shown = _text(client, f"/web/outbound/{ap}", language)
    assert 'id="waiting-for"' not in shown
    assert translate(language, WAITING) not in shown
