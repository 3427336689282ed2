"""Settings of the e-mail fallback (``GATEWAY_MAIL__…``) and of retention (``GATEWAY_RETENTION__…``)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gateway.config import Settings, secret_values


def test_mail_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "HOST": "smtp.coop.test",
        "PORT": "2525",
        "STARTTLS": "true",
        "USERNAME": "gateway",
        "PASSWORD": "smtp-secret-123",
        "FROM": "factures@coop.test",
    }.items():
        monkeypatch.setenv(f"GATEWAY_MAIL__{name}", value)
    settings = Settings()
    assert (settings.mail.host, settings.mail.port, settings.mail.sender) == (
        "smtp.coop.test",
        2525,
        "factures@coop.test",
    )
    assert "smtp-secret-123" in secret_values(settings)  # redacted from every log line
    assert "smtp-secret-123" not in repr(settings.mail)


def test_a_login_without_tls_to_a_remote_relay_is_refused() -> None:
    with pytest.raises(ValidationError, match="starttls"):
        Settings.model_validate(
            {"mail": {"host": "smtp.coop.test", "starttls": False, "username": "u", "password": "p"}}
        )
    with pytest.raises(ValidationError, match="password"):
        Settings.model_validate({"mail": {"host": "smtp.coop.test", "username": "u"}})


def test_evidence_retention_cannot_go_below_the_legal_period() -> None:
    assert Settings().retention.evidence_years == 10
    with pytest.raises(ValidationError):
        Settings.model_validate({"retention": {"evidence_years": 7}})
