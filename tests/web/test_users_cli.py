"""`gateway users add NAME --role ... [--unit ...]` and `gateway users list` on a SQLite database: the
password comes from stdin, only its argon2id hash is stored, and bad accounts are refused with a reason."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from gateway.cli.main import main
from gateway.store import make_engine
from gateway.store.tables import web_people
from gateway.web.passwords import verify_password


def test_users_add_hashes_the_password_and_list_never_shows_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'gw.db'}"
    monkeypatch.setenv("GATEWAY_DATABASE__URL", url)
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough password\n"))
    assert main(["users", "add", "mia", "--role", "member", "--unit", "PU-04711", "--unit", "pu 00123"]) == 0
    assert "account 'mia' created (member)" in capsys.readouterr().out
    monkeypatch.setattr("sys.stdin", io.StringIO("another long password\n"))
    assert main(["users", "add", "sam", "--role", "support", "--password-stdin"]) == 0
    assert main(["users", "list"]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()[-2:]]
    assert listed == [
        {"name": "mia", "role": "member", "units": ["PU00123", "PU04711"], "active": True},
        {"name": "sam", "role": "support", "units": [], "active": True},
    ]
    engine = make_engine(url)
    with engine.connect() as connection:
        stored = connection.execute(
            select(web_people.c.password_hash).where(web_people.c.name == "mia")
        ).scalar()
    engine.dispose()
    assert stored.startswith("$argon2id$")
    assert "a long enough password" not in stored
    assert verify_password(stored, "a long enough password")
    assert not verify_password(stored, "a long enough passwort")


@pytest.mark.parametrize(
    ("arguments", "password", "reason"),
    [
        (["users", "add", "max", "--role", "member"], "a long enough password", "at least one unit"),
        (["users", "add", "max", "--role", "admin"], "short", "at least 12 characters"),
        (["users", "add", "max", "--role", "member", "--unit", "!!"], "a long enough password", "max"),
    ],
)
def test_users_add_refuses_bad_accounts(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    arguments: list[str],
    password: str,
    reason: str,
) -> None:
    monkeypatch.setenv("GATEWAY_DATABASE__URL", f"sqlite:///{tmp_path / 'gw.db'}")
    monkeypatch.setattr("sys.stdin", io.StringIO(password + "\n"))
    assert main(arguments) == 2
    assert reason in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["users", "add", "max", "--role", "sender"])  # the invoicing system is no person
