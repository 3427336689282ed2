"""Settings refuse unsafe combinations when they are read (start-up), with a message naming the setting."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gateway.config import LEASE_MARGIN_SECONDS, Settings


def test_a_lease_shorter_than_a_renewal_plus_margin_is_refused_at_start_up() -> None:
    worker = {"lease_seconds": 45, "lease_renew_seconds": 10}
    with pytest.raises(ValidationError, match=r"lease_seconds \(45\) must exceed worker.lease_renew_seconds"):
        Settings.model_validate({"worker": worker})
    enough = 10 + LEASE_MARGIN_SECONDS
    assert (
        Settings.model_validate({"worker": {**worker, "lease_seconds": enough}}).worker.lease_seconds
        == enough
    )


def test_a_long_send_timeout_needs_no_long_lease() -> None:
    # The heartbeat renews the lease while a send is in flight: a 2-minute send timeout with a 50 s lease.
    worker = Settings.model_validate({"worker": {"send_timeout_seconds": 120, "lease_seconds": 50}}).worker
    assert worker.lease_seconds < worker.send_timeout_seconds


def test_the_default_worker_settings_are_consistent() -> None:
    worker = Settings().worker
    assert worker.lease_seconds >= worker.lease_renew_seconds + LEASE_MARGIN_SECONDS
    # A dead worker's documents are taken over within a minute (lease plus one poll).
    assert worker.lease_seconds + worker.poll_interval_seconds < 60
    assert worker.breaker_open_seconds <= worker.breaker_max_open_seconds


def test_a_circuit_that_would_shrink_is_refused() -> None:
    worker = {"breaker_open_seconds": 60, "breaker_max_open_seconds": 30}
    with pytest.raises(ValidationError, match="breaker_max_open_seconds"):
        Settings.model_validate({"worker": worker})


def test_the_after_receipt_backlog_is_bounded_by_bytes_too(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().as4.max_after_receipt_backlog_mib == 64
    monkeypatch.setenv("GATEWAY_AS4__MAX_AFTER_RECEIPT_BACKLOG_MIB", "8")
    assert Settings().as4.max_after_receipt_backlog_mib == 8
    with pytest.raises(ValidationError, match="max_after_receipt_backlog_mib"):
        Settings.model_validate({"as4": {"max_after_receipt_backlog_mib": 0}})


@pytest.mark.parametrize("code", ["UK", "ZZ", "XX", "B1"])
def test_our_country_must_be_one_the_peppol_reports_accept(code: str) -> None:
    # Our end users' country in every EUSR: "UK" (GB's ISO code is GB) or "ZZ" would make each month's EUSR
    # invalid (SCH-EUSR-30) and never sent; refused at start-up instead.
    with pytest.raises(ValidationError, match="no country code of the Peppol reports"):
        Settings.model_validate({"as4": {"country_c1": code}})
    assert Settings.model_validate({"as4": {"country_c1": "NL"}}).as4.country_c1 == "NL"
    assert Settings.model_validate({"as4": {"country_c1": "EL"}}).as4.country_c1 == "EL"


@pytest.mark.parametrize("seller_id", ["0739484052", "BE0739484052", "208:0739484052", "0208:"])
def test_our_seller_id_must_be_a_participant_id(seller_id: str) -> None:
    # Every outbound submission compares its seller (BT-34) with it: one that is no participant id made each
    # of them a 422 "invalid-identifier" the client could not correct; refused at start-up instead.
    with pytest.raises(ValidationError, match="seller_id"):
        Settings.model_validate({"seller_id": seller_id})
    assert Settings.model_validate({"seller_id": "9925:BE0739484052"}).seller_id == "9925:BE0739484052"


def test_our_vat_number_defaults_to_none_and_is_a_belgian_vat_number(monkeypatch: pytest.MonkeyPatch) -> None:
    # A VAT unit member's BT-31 is the unit's number (services.seller_identity): BE, 10 digits, mod 97.
    assert Settings().seller_vat_number is None
    monkeypatch.setenv("GATEWAY_SELLER_VAT_NUMBER", "be 0799.999.976")
    assert Settings().seller_vat_number == "BE0799999976"


@pytest.mark.parametrize(
    "vat_number", ["0799999976", "BE0799999977", "BE799999976", "BE2799999976", "NL0799999976", "BE", ""]
)
def test_a_vat_number_that_is_no_belgian_one_is_refused(vat_number: str) -> None:
    with pytest.raises(ValidationError, match=r"seller_vat_number .* is not a Belgian VAT number"):
        Settings.model_validate({"seller_vat_number": vat_number})


def test_a_vat_number_needs_a_belgian_seller_id() -> None:
    with pytest.raises(
        ValidationError, match="seller_vat_number needs a seller_id naming a Belgian enterprise"
    ):
        Settings.model_validate({"seller_id": "0088:7300010000001", "seller_vat_number": "BE0799999976"})
    settings = Settings.model_validate(
        {"seller_id": "9925:BE0739484052", "seller_vat_number": "BE0799999976"}
    )
    assert settings.seller_vat_number == "BE0799999976"


def test_our_legal_name_defaults_to_none_and_is_read_stripped(monkeypatch: pytest.MonkeyPatch) -> None:
    # The cooperative's legal name, which every outbound BT-27 must be (services.seller_identity).
    assert Settings().seller_name is None
    monkeypatch.setenv("GATEWAY_SELLER_NAME", "  Cooperatieve Vennootschap Samenwerking CV ")
    assert Settings().seller_name == "Cooperatieve Vennootschap Samenwerking CV"


@pytest.mark.parametrize("name", ["", "   ", "\t"])
def test_a_blank_legal_name_is_refused(name: str) -> None:
    # A blank name would refuse every document: an empty variable is a mistake, not "no check".
    with pytest.raises(ValidationError, match="seller_name is blank"):
        Settings.model_validate({"seller_name": name})
