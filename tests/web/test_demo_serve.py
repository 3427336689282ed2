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
    assert set(logins) == {"demo-admin", "demo-support", "demo-member"}

    def landing(name: str, start: str) -> str:
        with httpx.Client(base_url=site.url, follow_redirects=True) as client:
            token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/web/login").text)
            assert token
            form = {"csrf_token": token.group(1), "name": name, "password": logins[name], "next": start}
            answer = client.post("/web/login", data=form)
            assert answer.status_code == 200
            return answer.text

    assert "Outbound documents" in landing("demo-support", "/web/")
    assert "SUP-7001" in landing("demo-member", "/web/")  # PU-04711's expense
    assert "demo-member" in landing("demo-admin", "/web/people")  # the accounts page
