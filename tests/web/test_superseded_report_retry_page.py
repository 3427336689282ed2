"""Review 29: the outbound document of a Peppol report remade since (no report links it any more) is not
offered for retry on its page or its confirmation step, which say why instead: ``request_retry`` refuses it
(409, resending it would send the period's old report as well), as the API's ``retry_allowed`` says."""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import replace

import httpx
import pytest
from conftest import Site, _move, csrf_of

from gateway.model.message import DeliveryEvent, DocumentKind
from gateway.web.i18n import translate
from gateway.web.pages import REPORT_REMADE_SINCE
from tests.contract.store_builders import content, outbound

LANGUAGES = ["en", "fr", "nl"]


def _failed_report_document(site: Site) -> str:
    """A failed outbound document of kind Peppol report that no stored report links (remade since)."""
    document = replace(outbound(), kind=DocumentKind.PEPPOL_REPORT)
    with site.services.store.unit_of_work() as uow:
        uow.outbound.add(document, content())
        uow.jobs.enqueue(document.id, due_at=document.created_at)
        uow.commit()
    events = (DeliveryEvent.SEND_STARTED, DeliveryEvent.PERMANENT_FAILURE)
    _move(site.services.store, document.id, *events, reason="EBMS:0004: refused")
    return document.id


def _text(client: httpx.Client, path: str, language: str) -> str:
    answer = client.get(path, headers={"Accept-Language": language})
    assert answer.status_code == 200, answer.text
    return html.unescape(answer.text)


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_remade_reports_failed_document_is_not_offered_for_retry_and_says_why(
    site: Site, login: Callable[[str], httpx.Client], language: str
) -> None:
    superseded = _failed_report_document(site)
    client = login("sam")
    shown = _text(client, f"/web/outbound/{superseded}", language)
    assert f'href="/web/outbound/{superseded}/retry"' not in shown
    confirm = _text(client, f"/web/outbound/{superseded}/retry", language)
    assert f'action="/web/outbound/{superseded}/retry"' not in confirm
    assert translate(language, REPORT_REMADE_SINCE) in confirm
    assert translate(language, "This document's status does not allow a retry.") not in confirm
    # As the offer says: the retry itself is refused.
    token = csrf_of(client, f"/web/outbound/{superseded}")
    refused = client.post(f"/web/outbound/{superseded}/retry", data={"csrf_token": token})
    assert refused.status_code == 409
