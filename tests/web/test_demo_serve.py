"""``gateway demo --serve``: the demo people are created in the cooperative's database, the address and the
logins are printed, and those logins open the pages of the running gateway."""

from __future__ import annotations

import re
import threading

import httpx
import pytest
from conftest import Site

from gateway.cli.demo_serve import serve_until_interrupted


def test_demo_serve_prints_the_address_and_logins_that_work(
    site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    stop = threading.Event()
    stop.set()  # return at once after printing
    database_url = site.services.settings.database.url
    serve_until_interrupted(site.url, {"GATEWAY_DATABASE__URL": database_url}, stop=stop)
    printed = capsys.readouterr().out
    assert f"open {site.url}/web/" in printed
    logins = dict(re.findall(r"log in as (\S+) / (\S+)", printed))
    assert set(logins) == {"demo-support", "demo-member"}

    with httpx.Client(base_url=site.url, follow_redirects=True) as client:
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/web/login").text)
        assert token
        form = {"csrf_token": token.group(1), "name": "demo-support", "password": logins["demo-support"]}
        landing = client.post("/web/login", data=form)
        assert landing.status_code == 200
        assert "Outbound documents" in landing.text
    with httpx.Client(base_url=site.url, follow_redirects=True) as client:
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/web/login").text)
        assert token
        form = {"csrf_token": token.group(1), "name": "demo-member", "password": logins["demo-member"]}
        inbox = client.post("/web/login", data=form)
        assert inbox.status_code == 200
        assert "SUP-7001" in inbox.text  # PU-04711's expense
