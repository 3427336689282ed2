"""SMP URL building and the stage's HTTPS rule."""

from __future__ import annotations

import pytest

from gateway.errors import SMPResponseInvalid
from gateway.model.identifiers import BIS_INVOICE, ParticipantID
from gateway.smp import check_smp_url, service_group_url, service_metadata_url
from gateway.smp.urls import check_endpoint_url, check_remote_host

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


INTERNAL_URLS = [
    "https://127.0.0.1:8443/x",
    "https://10.1.2.3/x",
    "https://192.168.0.7/x",
    "https://169.254.169.254/latest/meta-data",
    "https://[::1]:8443/x",
    "https://[fe80::1%25eth0]/x",
    "https://0.0.0.0/x",
    "https://localhost:8443/x",
    "https://admin.localhost/x",
]


@pytest.mark.parametrize("url", INTERNAL_URLS)
def test_production_refuses_remote_urls_naming_internal_addresses(url: str) -> None:
    # A NAPTR answer, Redirect href or endpoint address is remote input: in production it must not make the
    # gateway connect to its own host or private network.
    with pytest.raises(SMPResponseInvalid, match="not a public"):
        check_remote_host(url, "production")
    with pytest.raises(SMPResponseInvalid, match="not a public"):
        check_endpoint_url(url, "production")


@pytest.mark.parametrize("url", ["https://smp.example/x", "https://8.8.8.8/x", "https://[2a00:1450::1]/x"])
def test_public_hosts_pass_in_production(url: str) -> None:
    assert check_remote_host(url, "production") == url
    assert check_endpoint_url(url, "production") == url


def test_internal_addresses_stay_allowed_outside_production() -> None:
    # The development network and the test-stage HTTPS tests run on loopback.
    assert check_remote_host("https://127.0.0.1:8443/x", "test")
    assert check_endpoint_url("https://127.0.0.1:8443/x", "development")
