"""``gateway demo`` configures each AP with its seller's legal name (``GATEWAY_SELLER_NAME``), and every
document the demo posts gives its seller that name as BT-27: none of them is refused for it."""

from __future__ import annotations

import json

import pytest

from gateway.cli.demo import DEFAULT_SAMPLES, SAMPLES_SELLER_NAME, seller_name_variables
from gateway.cli.demo_suppliers import SUPPLIERS, supplier_documents
from gateway.config import Settings
from gateway.services.legal_names import same_legal_name


def test_every_sample_is_sold_under_the_samples_seller_name() -> None:
    samples = sorted(DEFAULT_SAMPLES.glob("*.json"))
    assert samples
    for sample in samples:
        seller = json.loads(sample.read_bytes())["seller"]
        assert same_legal_name(seller["legal_name"], SAMPLES_SELLER_NAME), sample.name


def test_every_supplier_document_is_sold_under_the_partner_aps_seller_name() -> None:
    _, partner = seller_name_variables(Settings())
    documents = supplier_documents(sorted(DEFAULT_SAMPLES.glob("*.json")))
    assert documents
    for document in documents:
        seller = json.loads(document.body)["seller"]
        assert same_legal_name(seller["legal_name"], partner["GATEWAY_SELLER_NAME"]), document.number


def test_the_cooperatives_name_is_the_configured_one_or_the_samples_for_the_samples_seller() -> None:
    name = "GATEWAY_SELLER_NAME"
    partner = {name: SUPPLIERS[0].name}
    assert seller_name_variables(Settings()) == ({name: SAMPLES_SELLER_NAME}, partner)
    configured = Settings.model_validate({"seller_name": "Andere Coöperatie CV"})
    assert seller_name_variables(configured) == ({name: "Andere Coöperatie CV"}, partner)
    # Another seller's samples: their name is not known here, so the demo's cooperative checks none.
    other = Settings.model_validate({"seller_id": "0208:0412345614"})
    assert seller_name_variables(other) == ({}, partner)


@pytest.mark.parametrize("environment", [{}, {"GATEWAY_SELLER_NAME": "Andere Coöperatie CV"}])
def test_the_variables_are_settings_the_gateway_reads(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str]
) -> None:
    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    cooperative, partner = seller_name_variables(Settings())
    for variables in (cooperative, partner):
        with monkeypatch.context() as env:
            for key, value in variables.items():
                env.setenv(key, value)
            assert Settings().seller_name == variables["GATEWAY_SELLER_NAME"]
