"""The artefact manifest: pinned checksums, rule-set selection by date, releases added as data."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import date
from pathlib import Path

import pytest

from gateway.errors import ArtefactError
from gateway.validation import (
    DEFAULT_MANIFEST_PATH,
    DEFAULT_RULE_SET_ID,
    RULE_SETS,
    load_manifest,
    parse_manifest,
)
from gateway.validation import rule_set_for as select

V21, V19 = "peppol-bis-billing-3.0.21", "peppol-bis-billing-3.0.19-sch"


def test_rule_set_for_chooses_among_billing_rule_sets_only() -> None:
    # The T111 and MLS rule sets are in force too, but they never validate an invoice.
    assert load_manifest().rule_set_for(date(2027, 1, 1)).id == V21


def test_readme_checksums_match_the_manifest(artefacts_dir: Path) -> None:
    pinned = {f.path: f.sha256 for f in load_manifest().files.values()}
    listed = re.findall(r"^([0-9a-f]{64})  (\S+)$", (artefacts_dir / "README.md").read_text(), re.MULTILINE)
    # Every file the mirror's README pins must be pinned here with the same digest (new artefacts included).
    assert len(listed) >= 18
    for digest, path in listed:
        assert pinned[path] == digest, path


def test_every_pinned_file_matches_the_mirror(artefacts_dir: Path) -> None:
    for entry in load_manifest().files.values():
        data = (artefacts_dir / entry.path).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry.sha256, entry.path
        assert len(data) == entry.size


def test_rule_sets_load_what_the_issue_requires() -> None:
    manifest = load_manifest()
    assert set(RULE_SETS) == {
        V21,
        V19,
        "peppol-invoice-response-3-t111",
        "peppol-mls-1.0.1",
        "peppol-tsr-1.0.5",
        "peppol-eusr-1.1.5",
    }
    assert {manifest.rule_set(r).document for r in (V21, V19)} == {"billing"}
    assert DEFAULT_RULE_SET_ID == V21
    v21 = {f.path for f in manifest.files_of(V21)}
    v19 = {f.path for f in manifest.files_of(V19)}
    xsd_tree = {f.path for f in manifest.files.values() if f.package == "ubl-2.1"}
    assert len(xsd_tree) == 17
    assert xsd_tree <= v21
    assert xsd_tree <= v19
    assert v21 - xsd_tree == {
        "peppol-bis-billing-3.0.21/xslt/CEN-EN16931-UBL.xslt",
        "peppol-bis-billing-3.0.21/xslt/PEPPOL-EN16931-UBL.xslt",
    }
    sch = v19 - xsd_tree
    assert "peppol-bis-billing-3.0.19/sch/PEPPOL-EN16931-UBL.sch" in sch
    assert {p.split("/schematron/")[1].split("/")[0] for p in sch if "/schematron/" in p} == {
        "EN16931-UBL-validation.sch",
        "abstract",
        "UBL",
        "codelist",
    }


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 11, 23), V21),
        (date(2026, 8, 24), V21),
        (date(2026, 8, 23), V19),
        (date(2025, 8, 25), V19),
    ],
)
def test_rule_set_for_picks_by_effective_date(day: date, expected: str) -> None:
    assert select(day, load_manifest()) == expected


def test_no_rule_set_before_the_first_effective_date() -> None:
    with pytest.raises(ArtefactError, match="2025-01-01"):
        select(date(2025, 1, 1), load_manifest())


def test_a_new_release_is_data_only() -> None:
    raw = json.loads(DEFAULT_MANIFEST_PATH.read_text())
    v22 = dict(
        raw["rule_sets"][0], id="peppol-bis-billing-3.0.22", bis_release="3.0.22", effective_from="2027-02-24"
    )
    raw["rule_sets"].append(v22)
    manifest = parse_manifest(json.dumps(raw))
    assert select(date(2027, 2, 23), manifest) == V21
    assert select(date(2027, 2, 24), manifest) == "peppol-bis-billing-3.0.22"


def test_a_rule_set_naming_an_unpinned_file_is_refused() -> None:
    raw = json.loads(DEFAULT_MANIFEST_PATH.read_text())
    raw["rule_sets"][0]["layers"][0]["main"] = "nowhere/x.xslt"
    with pytest.raises(ArtefactError, match=r"unpinned files \['nowhere/x.xslt'\]"):
        parse_manifest(json.dumps(raw))


@pytest.mark.parametrize("bad", ["{", '{"packages": {}}', "[]"])
def test_malformed_manifest(bad: str) -> None:
    with pytest.raises(ArtefactError, match="malformed"):
        parse_manifest(bad)


def test_unknown_rule_set_lists_the_known_ones() -> None:
    with pytest.raises(ArtefactError, match=V21):
        load_manifest().rule_set("peppol-bis-billing-9.9")
