"""The seller name (BT-27) is the cooperative's legal name (``GATEWAY_SELLER_NAME``): how two spellings of
a legal name compare (``gateway.services.legal_names``), and the problem a posted document gets when its
BT-27 is another name (``seller_name_problems``)."""

from __future__ import annotations

import unicodedata

import pytest

from gateway.services.legal_names import legal_name_key, same_legal_name
from gateway.services.outbound_input import prepare_json_document, prepare_ubl_document
from gateway.services.seller_identity import seller_name_problems
from tests.unit.model.model_builders import SELLER, make_credit_note, make_invoice

COOPERATIVE = "Cooperatieve Vennootschap Samenwerking CV"


@pytest.mark.parametrize(
    ("configured", "written"),
    [
        (COOPERATIVE, COOPERATIVE),
        (COOPERATIVE, "cooperatieve vennootschap samenwerking cv"),  # case
        (COOPERATIVE, "COOPERATIEVE VENNOOTSCHAP SAMENWERKING CV"),
        (COOPERATIVE, "  Cooperatieve   Vennootschap\tSamenwerking \n CV "),  # runs of blanks
        (COOPERATIVE, "Cooperatieve\u00a0Vennootschap Samenwerking CV"),  # a no-break space
        (COOPERATIVE, "Cooperatieve Vennootschap Samenwerking C.V."),  # the legal form with dots
        (COOPERATIVE, "Cooperatieve Vennootschap Samenwerking C.V"),
        (COOPERATIVE, "Cooperatieve Vennootschap Samenwerking C. V."),  # ... and blanks inside it
        (COOPERATIVE, "Cooperatieve Vennootschap Samenwerking c v"),
        (COOPERATIVE, "Cooperatieve Vennootschap Samenwerking CV."),
        (COOPERATIVE, "Cooperatieve Vennootschap Samenwerking \uff23\uff36"),  # full-width CV (NFKC)
        ("Atelier du Coin SCRL", "Atelier du Coin S.C.R.L."),
        ("Atelier du Coin SCRL", "atelier du coin s. c. r. l."),
        ("Atelier du Coin S.C.", "Atelier du Coin SC"),
        ("Bouw Comm.V.", "Bouw CommV"),
        ("Les Amis ASBL", "Les Amis a.s.b.l."),
        # Composed and decomposed accents (NFC), and a case that casefold() folds (ß, ss).
        ("Coöperatie Brüssel CV", unicodedata.normalize("NFD", "COÖPERATIE BRÜSSEL C.V.")),
        ("Großbäckerei SRL", "GROSSBÄCKEREI S.R.L."),
    ],
)
def test_spellings_of_the_same_legal_name_compare_equal(configured: str, written: str) -> None:
    assert same_legal_name(configured, written)
    assert same_legal_name(written, configured)
    assert legal_name_key(written) == legal_name_key(configured)


@pytest.mark.parametrize(
    ("configured", "written"),
    [
        (COOPERATIVE, "Bakkerij Janssens"),  # an activity's own name
        (COOPERATIVE, "Bakkerij Janssens BV"),  # a member's own company
        (COOPERATIVE, "Cooperatieve Vennootschap Samenwerking"),  # the legal form left out
        # Another legal form is another name: no translation (CV/SC) and no old form for a new one (SCRL/CV).
        (COOPERATIVE, "Cooperatieve Vennootschap Samenwerking SC"),
        (COOPERATIVE, "Cooperatieve Vennootschap Samenwerking CVBA"),
        # Dots and blanks count outside the trailing legal form: they spell another name there.
        (COOPERATIVE, "Cooperatieve Vennootschap Samen Werking CV"),
        ("S.A.M. Bouw NV", "SAM Bouw NV"),
        ("CV Samenwerking", "C.V. Samenwerking"),  # a legal form that is not trailing is a word of the name
        # Letters that only look alike are other letters.
        (COOPERATIVE, "Cooperatieve Vennootschap Samenwerking \u0421V"),  # a Cyrillic Es
    ],
)
def test_another_name_or_another_legal_form_is_another_legal_name(configured: str, written: str) -> None:
    assert not same_legal_name(configured, written)
    assert not same_legal_name(written, configured)


def test_the_key_keeps_the_name_and_writes_the_trailing_legal_form_compactly() -> None:
    assert legal_name_key(" Atelier  du Coin, S. C. R. L. ") == "atelier du coin, scrl"
    assert legal_name_key("Atelier du Coin") == "atelier du coin"
    # A trailing word that is no legal form keeps its dots.
    assert legal_name_key("Bouw en Co.") == "bouw en co."


# -- the problem -------------------------------------------------------------------------------------------

UBL_NAME = "cac:AccountingSupplierParty/cac:Party/cac:PartyLegalEntity/cbc:RegistrationName"


def ubl(*names: str, root: str = "Invoice") -> bytes:
    """A UBL document whose seller has the cooperative's BT-34 and one PartyLegalEntity per name."""
    ns = f"urn:oasis:names:specification:ubl:schema:xsd:{root}-2"
    cbc = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
    cac = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
    legal = "".join(
        f"<cac:PartyLegalEntity><cbc:RegistrationName>{name}</cbc:RegistrationName></cac:PartyLegalEntity>"
        for name in names
    )
    return (
        f'<{root} xmlns="{ns}" xmlns:cbc="{cbc}" xmlns:cac="{cac}"><cbc:ID>F-1</cbc:ID>'
        '<cac:AccountingSupplierParty><cac:Party><cbc:EndpointID schemeID="0208">0739484052</cbc:EndpointID>'
        f"<cac:PartyName><cbc:Name>Bakkerij Janssens</cbc:Name></cac:PartyName>{legal}</cac:Party>"
        "</cac:AccountingSupplierParty><cac:AccountingCustomerParty><cac:Party>"
        '<cbc:EndpointID schemeID="0208">0412345614</cbc:EndpointID>'
        "</cac:Party></cac:AccountingCustomerParty>"
        f"</{root}>"
    ).encode()


def test_json_seller_name_of_the_activity_is_a_problem_naming_both_names_and_bt28() -> None:
    prepared = prepare_json_document(make_invoice(seller={**SELLER, "legal_name": "Bakkerij Janssens"}))
    assert seller_name_problems(prepared, COOPERATIVE) == (
        'seller.legal_name: BT-27 seller name "Bakkerij Janssens" is not the cooperative\'s legal name '
        f'"{COOPERATIVE}"; the seller name must be the cooperative\'s (documents are sent in its name only): '
        "an activity's own name belongs in BT-28 seller trading name (seller.trading_name)",
    )
    credit = prepare_json_document(make_credit_note(seller={**SELLER, "legal_name": "Bakkerij Janssens"}))
    [problem] = seller_name_problems(credit, COOPERATIVE)
    assert problem.startswith('seller.legal_name: BT-27 seller name "Bakkerij Janssens"')


def test_json_seller_name_spelt_otherwise_is_no_problem() -> None:
    # model_builders' seller is "Samenwerking CV".
    assert seller_name_problems(prepare_json_document(make_invoice()), "SAMENWERKING  C.V.") == ()
    seller = {**SELLER, "legal_name": "samenwerking c. v."}
    assert seller_name_problems(prepare_json_document(make_invoice(seller=seller)), "Samenwerking CV") == ()


@pytest.mark.parametrize("root", ["Invoice", "CreditNote"])
def test_ubl_registration_name_of_another_name_is_a_problem_naming_the_ubl_paths(root: str) -> None:
    prepared = prepare_ubl_document(ubl("Bakkerij Janssens", root=root), max_bytes=10_000)
    [problem] = seller_name_problems(prepared, COOPERATIVE)
    assert problem == (
        f'{UBL_NAME}: BT-27 seller name "Bakkerij Janssens" is not the cooperative\'s legal name '
        f'"{COOPERATIVE}"; the seller name must be the cooperative\'s (documents are sent in its name only): '
        "an activity's own name belongs in BT-28 seller trading name "
        "(cac:AccountingSupplierParty/cac:Party/cac:PartyName/cbc:Name)"
    )
    spelt = prepare_ubl_document(
        ubl("COOPERATIEVE  vennootschap Samenwerking C.V.", root=root), max_bytes=10_000
    )
    assert seller_name_problems(spelt, COOPERATIVE) == ()


def test_every_ubl_registration_name_is_read_and_its_whole_text() -> None:
    # The XSD refuses a second PartyLegalEntity of the seller, but the check does not read only the first.
    prepared = prepare_ubl_document(ubl(COOPERATIVE, "Bakkerij <!-- x -->Janssens"), max_bytes=10_000)
    [problem] = seller_name_problems(prepared, COOPERATIVE)
    assert '"Bakkerij Janssens"' in problem


def test_ubl_without_registration_name_is_left_to_validation() -> None:
    # BR-06 refuses a seller without a name; there is no name to compare here.
    assert seller_name_problems(prepare_ubl_document(ubl(), max_bytes=10_000), COOPERATIVE) == ()


def test_a_long_name_is_quoted_shortened() -> None:
    long_name = "Bakkerij " + "J" * 300
    prepared = prepare_json_document(make_invoice(seller={**SELLER, "legal_name": long_name}))
    [problem] = seller_name_problems(prepared, COOPERATIVE)
    assert f'BT-27 seller name "{long_name[:64]}..." (309 characters) is not' in problem
    assert long_name[:65] not in problem
