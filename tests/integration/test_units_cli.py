"""`gateway units import FILE` and `gateway units list` on a SQLite database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway.cli.main import main

CSV = b"""code,name,active,members
PU-04711,Schrijnwerkerij De Eik,true,an;jan
pu 00123,Bakkerij Het Graan,no,
"""


def test_cli_imports_and_lists_units(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GATEWAY_DATABASE__URL", f"sqlite:///{tmp_path / 'gw.db'}")
    source = tmp_path / "units.csv"
    source.write_bytes(CSV)
    assert main(["units", "import", str(source)]) == 0
    assert "2 production units imported" in capsys.readouterr().out
    assert main(["units", "list"]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(u["key"], u["active"], u["members"]) for u in listed] == [
        ("PU00123", False, []),
        ("PU04711", True, ["an", "jan"]),
    ]
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"code,name\nXX,Name\n")
    assert main(["units", "import", str(bad)]) == 2
    assert main(["units", "import", str(tmp_path / "missing.csv")]) == 2


def test_cli_refuses_a_unit_naming_a_member_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GATEWAY_DATABASE__URL", f"sqlite:///{tmp_path / 'gw.db'}")
    source = tmp_path / "units.csv"
    source.write_bytes(b"code,name,members\nPU-1,A,an\nPU-2,B,jan;an;jan\n")
    assert main(["units", "import", str(source)]) == 2
    assert "units.csv line 3: members named twice: 'jan'" in capsys.readouterr().err
    assert main(["units", "list"]) == 0
    assert capsys.readouterr().out == ""  # nothing imported


def test_cli_refuses_a_lone_surrogate_of_a_json_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``json.loads`` decodes ``\\ud800`` to a lone surrogate: no text (UTF-8, XML and the database refuse
    it), so the import is refused naming the item, not a traceback at the database."""
    monkeypatch.setenv("GATEWAY_DATABASE__URL", f"sqlite:///{tmp_path / 'gw.db'}")
    source = tmp_path / "units.json"
    source.write_bytes(b'[{"code": "PU-1", "name": "Dairy \\ud800"}]')
    assert main(["units", "import", str(source)]) == 2
    assert "the name holds a lone surrogate" in capsys.readouterr().err
