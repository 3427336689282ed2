"""The composition root: settings become the right objects (no I/O beyond reading files)."""

from __future__ import annotations

import pytest

from gateway.bootstrap import build_revocation, build_store, load_trust
from gateway.cli.main import main
from gateway.config import Settings
from gateway.crypto import CRLRevocationChecker, generate_dev_pki
from gateway.errors import ConfigurationError, StoreError


def test_revocation_is_off_by_default_and_a_hard_crl_check_when_asked() -> None:
    assert build_revocation(Settings()) is None
    hard = build_revocation(Settings.model_validate({"truststore": {"revocation": "crl"}}))
    soft = build_revocation(Settings.model_validate({"truststore": {"revocation": "crl-soft"}}))
    assert isinstance(hard, CRLRevocationChecker)
    assert isinstance(soft, CRLRevocationChecker)
    assert hard._soft_fail is False
    assert soft._soft_fail is True


def test_a_production_trust_store_is_pinned_to_the_access_point_ca(artefacts_dir: object) -> None:
    from pathlib import Path

    pem = Path(str(artefacts_dir)) / "peppol-pki" / "ap-prod-truststore-g3.pem"
    trust = load_trust(Settings.model_validate({"truststore": {"paths": [pem], "stage": "production"}}))
    assert trust is not None
    assert [n.rfc4514_string() for n in trust.leaf_issuers] == [
        "CN=PEPPOL ACCESS POINT CA - G3,O=OpenPEPPOL AISBL,C=BE"
    ]


def test_a_trust_store_without_an_access_point_ca_is_refused_outside_development(tmp_path: object) -> None:
    from datetime import UTC, datetime
    from pathlib import Path

    pki = generate_dev_pki(now=datetime.now(UTC), seat_ids=("POP000001",))
    root = Path(str(tmp_path)) / "root.pem"
    root.write_bytes(pki.root.cert_pem)  # a root alone: no CA named "ACCESS POINT"
    with pytest.raises(ConfigurationError, match="ACCESS POINT"):
        load_trust(Settings.model_validate({"truststore": {"paths": [root], "stage": "test"}}))
    assert load_trust(Settings.model_validate({"truststore": {"paths": [root], "stage": "development"}}))


def test_the_rule_set_in_force_comes_from_the_configured_manifest(
    artefacts_dir: object, tmp_path: object
) -> None:
    import json
    from datetime import UTC, datetime
    from pathlib import Path
    from typing import Any, cast

    from gateway.bootstrap import Services, build_validation_engine
    from gateway.validation import DEFAULT_MANIFEST_PATH

    raw = json.loads(DEFAULT_MANIFEST_PATH.read_text())
    newest = max(raw["rule_sets"], key=lambda r: r["effective_from"])
    raw["rule_sets"].append(
        dict(newest, id="peppol-bis-billing-3.0.99", bis_release="3.0.99", effective_from="2026-09-01")
    )
    manifest = Path(str(tmp_path)) / "manifest.json"
    manifest.write_text(json.dumps(raw))
    settings = Settings.model_validate(
        {"artefacts": {"manifest": manifest, "mirror": artefacts_dir, "cache_dir": Path(str(tmp_path)) / "c"}}
    )

    class Fixed:
        def now(self) -> datetime:
            return datetime(2026, 12, 4, 12, tzinfo=UTC)

    services = Services(
        settings=settings, validation=build_validation_engine(settings), store=cast(Any, None)
    )
    services.clock = Fixed()
    assert services.rule_set_today() == "peppol-bis-billing-3.0.99"


def _dev_settings_files(tmp_path: object) -> tuple[dict[str, object], object]:
    from datetime import UTC, datetime
    from pathlib import Path

    from gateway.crypto import DEV_PKCS12_PASSWORD

    folder = Path(str(tmp_path))
    pki = generate_dev_pki(now=datetime.now(UTC), seat_ids=("POP000001",))
    for name, data in pki.files().items():
        (folder / name).write_bytes(data)
    return {
        "keystore": {"path": folder / "pop000001.p12", "password": DEV_PKCS12_PASSWORD},
        "truststore": {"paths": [folder / "root.pem", folder / "apca.pem"]},
    }, pki


def test_the_trust_stage_is_production_unless_stated() -> None:
    assert Settings().truststore.stage == "production"


def test_a_production_gateway_refuses_development_keys_and_placeholder_ids(tmp_path: object) -> None:
    from gateway.bootstrap import check_stage, load_identity

    values, _ = _dev_settings_files(tmp_path)
    settings = Settings.model_validate(values)
    with pytest.raises(ConfigurationError) as refused:
        check_stage(settings, load_identity(settings), load_trust(settings))
    message = str(refused.value)
    for problem in (
        "keystore password is the development PKI's",
        "AP certificate 'POP000001' is a development one",
        "trust anchor 'Dev Peppol Root CA' is a development CA",
        "GATEWAY_AS4__MESSAGE_ID_DOMAIN 'gateway.coop.example' is a placeholder",
        "GATEWAY_SELLER_ID '0208:0739484052' is the documentation's example",
    ):
        assert problem in message
    values["truststore"] = {**values["truststore"], "stage": "development"}  # type: ignore[dict-item]
    development = Settings.model_validate(values)
    check_stage(development, load_identity(development), load_trust(development))  # no objection


def test_a_production_gateway_refuses_peppol_test_anchors(artefacts_dir: object) -> None:
    from pathlib import Path

    from gateway.bootstrap import check_stage

    pem = Path(str(artefacts_dir)) / "peppol-pki" / "ap-test-truststore-g3.pem"
    trust = load_trust(Settings.model_validate({"truststore": {"paths": [pem], "stage": "test"}}))
    real = Settings.model_validate(
        {"seller_id": "0208:0123456749", "as4": {"message_id_domain": "ap.coop.be"}}
    )
    with pytest.raises(ConfigurationError, match=r"is a Peppol TEST CA"):
        check_stage(real, None, trust)
    check_stage(real, None, None)  # real ids, no keys yet: nothing to object to


def test_start_up_runs_the_production_checks_before_opening_anything(tmp_path: object) -> None:
    from pathlib import Path

    from gateway.bootstrap import build_services

    values, _ = _dev_settings_files(tmp_path)
    database = Path(str(tmp_path)) / "never.db"
    values["database"] = {"url": f"sqlite:///{database}"}
    with pytest.raises(ConfigurationError, match="production stage"):
        build_services(Settings.model_validate(values))
    assert not database.exists()


def test_an_unreachable_database_at_start_up_is_one_line_without_the_password(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Port 1 refuses at once: the migration run by `gateway serve` / `worker` cannot connect.
    monkeypatch.setenv("GATEWAY_DATABASE__URL", "postgresql+psycopg://bob:DbPassw0rdSECRET@127.0.0.1:1/gw")
    key = '[{"name": "a", "role": "admin", "key": "k0123456789abcdef0123456789"}]'
    monkeypatch.setenv("GATEWAY_API__KEYS", key)
    monkeypatch.setenv("GATEWAY_TRUSTSTORE__STAGE", "development")
    with pytest.raises(StoreError) as info:
        build_store(Settings())
    assert "127.0.0.1" in str(info.value)  # the operator learns what failed
    assert main(["worker", "--once"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gateway: ")
    assert "Traceback" not in err
    assert "DbPassw0rdSECRET" not in err + str(info.value)


class _Built(Exception):
    """Raised by the stand-in ``build_services``: the test only needs the process it was asked for."""


def test_serve_and_the_worker_size_their_store_for_their_own_process(monkeypatch: pytest.MonkeyPatch) -> None:
    import argparse

    import gateway.api.app as app_module
    import gateway.cli.worker as worker_module

    asked: list[str] = []

    def build_services(_settings: Settings, process: str = "command") -> None:
        asked.append(process)
        raise _Built

    monkeypatch.setattr(app_module, "build_services", build_services)
    monkeypatch.setattr(worker_module, "build_services", build_services)
    key = {"name": "a", "role": "admin", "key": "k0123456789abcdef0123456789"}
    settings = Settings.model_validate({"api": {"keys": [key]}})
    with pytest.raises(_Built):
        app_module.create_app(settings)
    with pytest.raises(_Built):
        worker_module.run_worker(argparse.Namespace(max_jobs=None, once=True), settings)
    assert asked == ["serve", "worker"]


def test_a_production_gateway_without_our_legal_name_is_warned_of_not_refused() -> None:
    from gateway.bootstrap.stage import stage_warnings

    [warning] = stage_warnings(Settings())  # the production stage
    assert warning == (
        "GATEWAY_SELLER_NAME is not set: the seller name (BT-27) of outbound documents is not checked "
        "against the cooperative's legal name"
    )
    assert stage_warnings(Settings.model_validate({"seller_name": "Samenwerking CV"})) == ()
    development = Settings.model_validate({"truststore": {"stage": "development"}})
    assert stage_warnings(development) == ()


def test_serve_logs_the_stage_warnings_at_start_up(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import argparse

    from gateway.cli import serve

    started: list[object] = []

    class Server:
        def __init__(self, config: object) -> None:
            started.append(config)

        def run(self, sockets: object = None) -> None:
            started.append("run")

    monkeypatch.setattr(serve, "create_app", lambda settings: object())
    monkeypatch.setattr(serve, "server_config", lambda app, server, **kw: "config")
    monkeypatch.setattr(serve.uvicorn, "Server", Server)
    monkeypatch.setattr(serve, "install_log_rate_limits", lambda: None)
    # Nothing of this process changes: no malloc arenas, mmap threshold or GIL switch interval.
    monkeypatch.setattr(serve, "limit_malloc_arenas", lambda _arenas: False)
    monkeypatch.setattr(serve, "fix_mmap_threshold", lambda _bytes: False)
    monkeypatch.setattr(serve, "lengthen_gil_switch_interval", lambda: None)
    args = argparse.Namespace(host="127.0.0.1", port=0, fd=None)
    with caplog.at_level("WARNING"):
        assert serve.run_serve(args, Settings()) == 0
    assert started == ["config", "run"]  # started all the same
    assert [(r.levelname, r.getMessage()) for r in caplog.records if r.name.startswith("gateway")] == [
        (
            "WARNING",
            "GATEWAY_SELLER_NAME is not set: the seller name (BT-27) of outbound documents is not "
            "checked against the cooperative's legal name",
        )
    ]
    caplog.clear()
    with caplog.at_level("WARNING"):
        serve.run_serve(args, Settings.model_validate({"seller_name": "Samenwerking CV"}))
    assert not [r for r in caplog.records if r.name.startswith("gateway")]
