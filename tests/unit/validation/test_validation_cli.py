"""``gateway validate`` and ``gateway artefacts``: one JSON line per file, never a traceback, exit codes."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from gateway.cli.artefacts import run_list, run_verify
from gateway.cli.validate import run_validate
from gateway.config import Settings


def _settings(mirror: Path, cache: Path) -> Settings:
    return Settings.model_validate({"artefacts": {"mirror": mirror, "cache_dir": cache}})


def test_validate_json_lines(artefacts_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = artefacts_dir / "peppol-bis-billing-3.0.21" / "examples" / "base-example.xml"
    peppol_bad = artefacts_dir / "cen-en16931-1.3.16" / "test" / "testfiles" / "BIS_Billing_30-Elnat.xml"
    garbage = tmp_path / "garbage.xml"
    garbage.write_bytes(b"\x00\x01 not xml")
    missing = tmp_path / "missing.xml"
    args = argparse.Namespace(files=[good, peppol_bad, garbage, missing], rules=None, json=True)
    code = run_validate(args, _settings(artefacts_dir, tmp_path / "cache"))
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 1
    assert [(d["file"], d["valid"]) for d in lines] == [
        (str(good), True),
        (str(peppol_bad), False),
        (str(garbage), False),
        (str(missing), False),
    ]
    assert lines[0]["issues"] == []
    assert {(i["rule"], i["severity"], i["layer"]) for i in lines[1]["issues"]} == {
        ("PEPPOL-COMMON-R049", "fatal", "peppol")
    }
    assert set(lines[1]["issues"][0]) == {"rule", "severity", "layer", "message", "location"}
    for line in lines[2:]:
        assert [i["rule"] for i in line["issues"]] == ["XML"]


def test_validate_all_valid_exits_0_and_unknown_rules_exit_2(
    artefacts_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = artefacts_dir / "peppol-bis-billing-3.0.19" / "examples" / "vat-category-E.xml"
    settings = _settings(artefacts_dir, tmp_path)
    ok = argparse.Namespace(files=[good], rules="peppol-bis-billing-3.0.19-sch", json=False)
    assert run_validate(ok, settings) == 0
    assert "valid" in capsys.readouterr().out
    bad = argparse.Namespace(files=[good], rules="no-such-rules", json=True)
    assert run_validate(bad, settings) == 2
    assert capsys.readouterr().out == ""


def test_artefacts_list_and_verify(
    artefacts_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = _settings(artefacts_dir, tmp_path)
    assert run_list(argparse.Namespace(json=True), settings) == 0
    listing = json.loads(capsys.readouterr().out)
    assert {rs["id"] for rs in listing["rule_sets"]} == {
        "peppol-bis-billing-3.0.21",
        "peppol-bis-billing-3.0.19-sch",
        "peppol-invoice-response-3-t111",
        "peppol-mls-1.0.1",
        "peppol-tsr-1.0.5",
        "peppol-eusr-1.1.5",
    }
    assert {f["origin"] for f in listing["files"]} == {"mirror"}
    assert run_verify(argparse.Namespace(), settings) == 0
    # A mirror with a tampered file fails verification.
    mirror = tmp_path / "mirror"
    source = artefacts_dir / "peppol-pki" / "ap-test-truststore-g3.pem"
    (mirror / "peppol-pki").mkdir(parents=True)
    (mirror / "peppol-pki" / "ap-test-truststore-g3.pem").write_bytes(source.read_bytes() + b"\n")
    assert run_verify(argparse.Namespace(), _settings(mirror, tmp_path / "c")) == 1
    assert "SHA-256 mismatch" in capsys.readouterr().err
