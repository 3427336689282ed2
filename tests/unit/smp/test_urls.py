"""SMP URL building and the stage's HTTPS rule."""

from __future__ import annotations

import pytest

from gateway.errors import SMPResponseInvalid
from gateway.model.identifiers import BIS_INVOICE, ParticipantID
from gateway.smp import check_smp_url, service_group_url, service_metadata_url

P = ParticipantID.parse("0088:123abc")


def test_urls_percent_encode_identifiers() -> None:
    assert service_group_url("https://smp.example/smp/", P) == (
        "https://smp.example/smp/iso6523-actorid-upis%3A%3A0088%3A123abc"
    )
    url = service_metadata_url("https://smp.example", P, BIS_INVOICE)
    assert url.startswith(
        "https://smp.example/iso6523-actorid-upis%3A%3A0088%3A123abc/services/busdox-docid-qns%3A%3A"
    )
    assert "%23%23" in url
    assert "#" not in url


@pytest.mark.parametrize("stage", ["development", "test", "production"])
def test_https_always_allowed(stage: str) -> None:
    assert check_smp_url("https://smp.example", stage) == "https://smp.example"  # type: ignore[arg-type]


def test_plain_http_only_to_loopback_in_development() -> None:
    assert check_smp_url("http://127.0.0.1:8053", "development")
    assert check_smp_url("http://localhost:8053", "development")
    for stage, url in [
        ("development", "http://smp.example"),
        ("test", "http://127.0.0.1:8053"),
        ("production", "http://127.0.0.1:8053"),
    ]:
        with pytest.raises(SMPResponseInvalid, match="https only"):
            check_smp_url(url, stage)  # type: ignore[arg-type]


@pytest.mark.parametrize("url", ["smp.example", "https://user:pw@smp.example", "https://" + "a" * 3000])
def test_malformed_urls_refused(url: str) -> None:
    with pytest.raises(SMPResponseInvalid):
        check_smp_url(url, "production")


@pytest.mark.parametrize("url", ["https://[zz/smp", "https://\u2100.example/smp", "https://[::1/smp"])
def test_a_malformed_redirect_href_is_a_bad_smp_response(url: str) -> None:
    # A Redirect href is remote input: urlsplit's ValueError must not escape the lookup.
    with pytest.raises(SMPResponseInvalid):
        check_smp_url(url, "production")
