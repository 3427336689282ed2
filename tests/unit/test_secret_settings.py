"""Secrets in settings and key files: start-up errors never print a rejected value, malformed key settings
get a clear error, the webhook URL must use TLS (loopback excepted), and development keys are created 0600."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from gateway.cli.main import main
from gateway.config import Settings
from gateway.crypto import generate_dev_pki
from gateway.crypto.devpki import is_private_file

LEAKED_KEY = "hunter2-pasted-api-key"  # 22 characters: refused as too short, must not be printed
WEBHOOK_SECRET = "whsec-0123456789abcdef"


def settings(**values: Any) -> Settings:
    return Settings.model_validate(values)


def test_a_rejected_setting_is_reported_without_its_value(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(
        "GATEWAY_API__KEYS", json.dumps([{"name": "erp", "role": "sender", "key": LEAKED_KEY}])
    )
    monkeypatch.setenv("GATEWAY_WEBHOOKS__URL", "http://hooks.example.be/in?token=tok-in-the-url-123")
    monkeypatch.setenv("GATEWAY_WEBHOOKS__SECRET", WEBHOOK_SECRET)
    assert main(["artefacts", "list"]) == 2
    err = capsys.readouterr().err
    assert "invalid settings" in err
    assert "api.keys.0: Value error, API key 'erp' is shorter than 24 characters" in err
    assert "webhooks: Value error, webhooks.url must be an https:// URL" in err
    for secret in (LEAKED_KEY, "tok-in-the-url-123", WEBHOOK_SECRET, "input"):
        assert secret not in err
    assert "Traceback" not in err


@pytest.mark.parametrize("digest", ["z" * 64, "0" * 63 + "g", "ab" * 31])
def test_a_malformed_sha256_key_setting_is_a_clear_configuration_error(digest: str) -> None:
    with pytest.raises(ValidationError) as caught:
        settings(api={"keys": [{"name": "erp", "role": "sender", "sha256": digest}]})
    (problem,) = caught.value.errors(include_input=False)
    assert (
        problem["msg"]
        == "Value error, API key 'erp': 'sha256' must be 64 hex digits (the SHA-256 of the key)"
    )


def test_a_well_formed_sha256_key_setting_is_accepted() -> None:
    digest = hashlib.sha256(b"some key of the invoicing system").hexdigest().upper()
    (key,) = settings(api={"keys": [{"name": "erp", "role": "sender", "sha256": digest}]}).api.keys
    assert key.digest == digest.lower()


@pytest.mark.parametrize(
    "url",
    [
        "https://erp.example.be/hooks/peppol",
        "http://127.0.0.1:8081/hooks",
        "http://127.8.9.10/hooks",
        "http://localhost:9000/hooks",
        "http://[::1]:9000/hooks",
    ],
)
def test_webhook_urls_use_tls_or_stay_on_the_host(url: str) -> None:
    assert settings(webhooks={"url": url, "secret": WEBHOOK_SECRET}).webhooks.url == url


@pytest.mark.parametrize(
    "url",
    [
        "http://erp.example.be/hooks/peppol",
        "http://10.0.0.5/hooks",
        "http://127.0.0.1.nip.io/hooks",
        "ftp://erp.example.be/hooks",
        "https:///no-host",
        "erp.example.be/hooks",
    ],
)
def test_other_webhook_urls_are_refused_without_being_echoed(url: str) -> None:
    with pytest.raises(ValidationError) as caught:
        settings(webhooks={"url": url, "secret": WEBHOOK_SECRET})
    (problem,) = caught.value.errors(include_input=False)
    assert "must be an https:// URL" in problem["msg"]
    assert url not in problem["msg"]


def test_a_one_or_two_character_keystore_password_is_refused() -> None:
    # Such a value could not be redacted from logs without blanking ordinary text (see observability).
    with pytest.raises(ValidationError, match=r"keystore\.password must be at least 3 characters"):
        settings(keystore={"password": "ab"})
    assert settings(keystore={"password": "dev"}).keystore.password is not None


def assert_owner_only_keys(directory: Path) -> None:
    files = sorted(directory.iterdir())
    assert any(is_private_file(f.name) for f in files)
    for path in files:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o600 if is_private_file(path.name) else 0o644), path.name


@pytest.fixture
def no_chmod(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # Keys must be created with their mode, not chmod-ed afterwards: with chmod disabled the modes hold.
    monkeypatch.setattr(os, "chmod", lambda *a, **k: None)
    old_umask = os.umask(0o022)
    yield
    os.umask(old_umask)


@pytest.mark.usefixtures("no_chmod")
def test_development_keys_are_created_owner_only(tmp_path: Path) -> None:
    assert main(["certs", "dev-pki", str(tmp_path / "pki")]) == 0
    assert_owner_only_keys(tmp_path / "pki")


@pytest.mark.usefixtures("no_chmod")
def test_replaced_development_keys_do_not_keep_a_wider_mode(tmp_path: Path) -> None:
    pki = generate_dev_pki(now=datetime.now(UTC))
    directory = tmp_path / "pki"
    directory.mkdir()
    for name in pki.files():
        (directory / name).write_bytes(b"old")
        (directory / name).chmod(0o644)  # a file left by an older version
    pki.write(directory, overwrite=True)
    assert_owner_only_keys(directory)
    with pytest.raises(FileExistsError):
        pki.write(directory)
