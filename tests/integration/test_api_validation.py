"""POST /v1/validate and the API's cross-cutting behaviour: auth, problem+json, hostile input, limits."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from gateway.xmlcore import MAX_ATTRIBUTES_PER_TAG, MAX_NAME_BYTES
from tests.integration.conftest import SUPPORT_KEY, problem_of

XML = {"Content-Type": "application/xml"}


def example(artefacts_dir: Path, name: str = "base-example.xml") -> bytes:
    return (artefacts_dir / "peppol-bis-billing-3.0.21" / "examples" / name).read_bytes()


def test_validate_requires_an_api_key(api: TestClient, artefacts_dir: Path) -> None:
    response = api.post("/v1/validate", content=example(artefacts_dir), headers={**XML, "Authorization": ""})
    assert response.status_code == 401
    assert problem_of(response)["status"] == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_validate_refuses_a_wrong_key(api: TestClient, artefacts_dir: Path) -> None:
    response = api.post(
        "/v1/validate", content=example(artefacts_dir), headers={**XML, "Authorization": "Bearer not-a-key"}
    )
    assert response.status_code == 401


def test_validate_accepts_the_x_api_key_header(api: TestClient, artefacts_dir: Path) -> None:
    response = api.post(
        "/v1/validate",
        content=example(artefacts_dir),
        headers={**XML, "Authorization": "", "X-API-Key": SUPPORT_KEY},
    )
    assert response.status_code == 200


def test_official_example_is_valid(api: TestClient, artefacts_dir: Path) -> None:
    response = api.post("/v1/validate", content=example(artefacts_dir), headers=XML)
    assert response.status_code == 200
    report = response.json()
    assert report["valid"] is True
    assert report["rule_set"] == "peppol-bis-billing-3.0.21"
    assert [i for i in report["issues"] if i["severity"] == "fatal"] == []


def test_broken_totals_are_reported_with_rule_ids(api: TestClient, artefacts_dir: Path) -> None:
    xml = example(artefacts_dir).replace(
        b'<cbc:PayableAmount currencyID="EUR">', b'<cbc:PayableAmount currencyID="EUR">1', 1
    )
    assert xml != example(artefacts_dir)
    report = api.post("/v1/validate", content=xml, headers=XML).json()
    assert report["valid"] is False
    rules = {(i["rule"], i["layer"], i["severity"]) for i in report["issues"]}
    assert ("BR-CO-16", "cen", "fatal") in rules


def test_other_rule_set_by_query(api: TestClient, artefacts_dir: Path) -> None:
    response = api.post(
        "/v1/validate",
        params={"rules": "peppol-bis-billing-3.0.19-sch"},
        content=example(artefacts_dir),
        headers=XML,
    )
    assert response.status_code == 200
    assert response.json()["rule_set"] == "peppol-bis-billing-3.0.19-sch"


@pytest.mark.parametrize(
    "payload",
    [
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>',
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><x>&b;</x>',
        b"<Invoice><unclosed></Invoice>",
        b"",
    ],
    ids=["xxe", "entity-expansion", "malformed", "empty"],
)
def test_hostile_or_broken_xml_is_a_400_problem(api: TestClient, payload: bytes) -> None:
    response = api.post("/v1/validate", content=payload, headers=XML)
    assert response.status_code == 400
    body = problem_of(response)
    assert body["type"] == "/problems/xml-input"
    assert "passwd" not in response.text or "root:" not in response.text


def test_an_element_with_too_many_attributes_is_a_422_naming_the_limit(api: TestClient) -> None:
    # Refused before the parse (``xmlcore.start_tags``); Saxon's own parser refuses more than 200 after it.
    attributes = b"".join(b" a%d='%d'" % (n, n) for n in range(MAX_ATTRIBUTES_PER_TAG + 1))
    response = api.post("/v1/validate", content=b"<Invoice" + attributes + b"/>", headers=XML)
    assert response.status_code == 422, response.text
    body = problem_of(response)
    assert body["type"] == "/problems/xml-limit"
    assert f"the limit is {MAX_ATTRIBUTES_PER_TAG} per element" in body["detail"]


@pytest.mark.parametrize(
    "payload",
    [
        b"<Invoice><" + b"n" * 2_000_000 + b"/></Invoice>",
        b"<Invoice " + b"n" * 2_000_000 + b"='1'/>",
        b"<Invoice xmlns:" + b"n" * 2_000_000 + b"='urn:p'/>",
    ],
    ids=["element", "attribute", "prefix"],
)
def test_a_name_of_2_mb_is_a_422_naming_the_limit(api: TestClient, payload: bytes) -> None:
    # Refused before the parse (``xmlcore.name_length``); libxml2 reads up to 10 MB of it under huge_tree.
    # 2 MB: this API's body limit is 2 MiB (5 MB: tests/unit/test_xml_name_bound.py).
    response = api.post("/v1/validate", content=payload, headers=XML)
    assert response.status_code == 422, response.text
    body = problem_of(response)
    assert body["type"] == "/problems/xml-limit"
    assert f"name of more than {MAX_NAME_BYTES} bytes" in body["detail"]


def _encoded(xml: bytes, encoding: str, codec: str) -> bytes:
    return xml.decode().replace('encoding="UTF-8"', f'encoding="{encoding}"', 1).encode(codec)


@pytest.mark.parametrize(
    ("encoding", "codec", "refusal"),
    [
        ("UTF-16", "utf-16", "UTF-16 (a byte order mark)"),
        ("UTF-16", "utf-16-be", "UTF-16 (NUL bytes at its start)"),
        ("UTF-32", "utf-32", "UTF-32 (a byte order mark)"),
        ("IBM037", "cp037", "EBCDIC"),
    ],
    ids=["utf-16", "utf-16be-no-bom", "utf-32", "ebcdic"],
)
def test_an_invoice_not_in_utf_8_is_a_400_naming_its_encoding(
    api: TestClient, artefacts_dir: Path, encoding: str, codec: str, refusal: str
) -> None:
    # The byte scans before the parse read "<" and "=" as bytes: a UTF-16 name of 1 MB of U+4E3C (bytes
    # "3C 4E") left them no gap to find, and libxml2 parsed it (``xmlcore.encoding``).
    response = api.post(
        "/v1/validate", content=_encoded(example(artefacts_dir), encoding, codec), headers=XML
    )
    assert response.status_code == 400, response.text
    body = problem_of(response)
    assert body["type"] == "/problems/xml-encoding"
    assert body["detail"] == (
        f"document is encoded in {refusal}: the gateway reads XML in UTF-8 (or an ASCII-compatible "
        "single-byte encoding: US-ASCII, ISO-8859-n, windows-125n...)"
    )


def test_a_utf_16_name_of_1_mb_leaving_the_scan_no_gap_is_refused(api: TestClient) -> None:
    name = "\u4e3c" * 500_000
    payload = f"<Invoice><{name}/></Invoice>".encode("utf-16")
    response = api.post("/v1/validate", content=payload, headers=XML)
    assert response.status_code == 400, response.text
    assert problem_of(response)["type"] == "/problems/xml-encoding"


@pytest.mark.parametrize(
    ("encoding", "codec"),
    [
        ("ISO-8859-1", "latin-1"),
        ("windows-1252", "cp1252"),
        ("utf-8", "utf-8"),
        ("UTF8", "utf-8"),
        # Other names libxml2 reads them by (refused before: only a few spellings were known).
        ("l1", "latin-1"),
        ("MS-ANSI", "cp1252"),
        ("ANSI_X3.4-1968", "ascii"),
    ],
)
def test_an_invoice_in_an_ascii_compatible_encoding_is_validated(
    api: TestClient, artefacts_dir: Path, encoding: str, codec: str
) -> None:
    response = api.post(
        "/v1/validate", content=_encoded(example(artefacts_dir), encoding, codec), headers=XML
    )
    assert response.status_code == 200, response.text
    assert response.json()["valid"] is True
    with_bom = api.post("/v1/validate", content=b"\xef\xbb\xbf" + example(artefacts_dir), headers=XML)
    assert with_bom.status_code == 200, with_bom.text
    assert with_bom.json()["valid"] is True


def test_oversized_body_is_refused(api: TestClient) -> None:
    response = api.post("/v1/validate", content=b"<a>" + b"x" * (3 * 1024 * 1024) + b"</a>", headers=XML)
    assert response.status_code == 413
    assert problem_of(response)["status"] == 413


def test_unknown_rule_set_is_a_problem(api: TestClient, artefacts_dir: Path) -> None:
    response = api.post(
        "/v1/validate", params={"rules": "no-such-rules"}, content=example(artefacts_dir), headers=XML
    )
    assert response.status_code in (400, 422)
    assert "no-such-rules" in str(problem_of(response)["detail"])


def test_health_is_public_and_openapi_needs_a_key(api: TestClient) -> None:
    assert api.get("/healthz", headers={"Authorization": ""}).json() == {"status": "ok"}
    assert api.get("/readyz", headers={"Authorization": ""}).status_code == 200
    assert api.get("/openapi.json", headers={"Authorization": ""}).status_code == 401
    spec = api.get("/openapi.json").json()
    assert "/v1/validate" in spec["paths"]
    assert "/v1/convert" in spec["paths"]


def test_a_store_failure_is_a_503_problem_with_retry_after(
    api: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gateway.errors import StoreError

    services = api.app.state.services  # type: ignore[attr-defined]

    def locked(*args: object, **kwargs: object) -> None:
        raise StoreError("database is locked")

    monkeypatch.setattr(services.store, "unit_of_work", locked)
    response = api.get("/v1/outbound/00000000-0000-0000-0000-000000000000")
    assert response.status_code == 503
    assert problem_of(response)["type"] == "/problems/store-unavailable"
    assert response.headers["retry-after"] == "5"
