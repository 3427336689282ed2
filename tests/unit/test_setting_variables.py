"""A ``GATEWAY_`` variable that names no setting is refused when the settings are built, naming it and the
closest real settings, never its value; the test suite's own variables stay allowed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from gateway.cli.main import main
from gateway.config import Settings
from gateway.config.variables import NOT_SETTINGS, service_link, setting_variables, unknown_variables

SECRET = "kestore-pass-that-must-not-leak"


def refusal(monkeypatch: pytest.MonkeyPatch, **environ: str) -> list[str]:
    """The messages of building Settings with ``environ`` added to the environment."""
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError) as caught:
        Settings()
    return [problem["msg"] for problem in caught.value.errors()]


def test_a_misspelt_group_is_refused_with_the_real_name(monkeypatch: pytest.MonkeyPatch) -> None:
    assert refusal(monkeypatch, GATEWAY_DOCUMENTS__SAXON_YOUNG_GENERATION_MIB="4") == [
        "unknown setting GATEWAY_DOCUMENTS__SAXON_YOUNG_GENERATION_MIB"
        " (did you mean GATEWAY_VALIDATION__SAXON_YOUNG_GENERATION_MIB?)"
    ]


@pytest.mark.parametrize(
    ("variable", "suggestion"),
    [
        ("GATEWAY_LOG_LEVL", "GATEWAY_LOG_LEVEL"),  # top level
        ("GATEWAY_TRUSTSTORE_STAGE", "GATEWAY_TRUSTSTORE__STAGE"),  # one underscore: a top-level name
        ("GATEWAY_TRUSTSTORE__STAGES", "GATEWAY_TRUSTSTORE__STAGE"),  # nested
        ("GATEWAY_DISCOVERY__SMLZONE", "GATEWAY_DISCOVERY__SML_ZONE"),
        ("GATEWAY_LOG_LEVEL__DEBUG", "GATEWAY_LOG_LEVEL"),  # below a leaf
        (
            "GATEWAY_VALIDATION__SAXON_YOUNG_GENERATION_MIB__X",
            "GATEWAY_VALIDATION__SAXON_YOUNG_GENERATION_MIB",
        ),
        ("GATEWAY_API__KEYS__0__NAME", "GATEWAY_API__KEYS"),  # a list of models is one (JSON) value
    ],
)
def test_an_unknown_name_is_refused_at_any_depth(
    monkeypatch: pytest.MonkeyPatch, variable: str, suggestion: str
) -> None:
    assert refusal(monkeypatch, **{variable: "x"}) == [
        f"unknown setting {variable} (did you mean {suggestion}?)"
    ]


def test_nothing_alike_gets_no_suggestion(monkeypatch: pytest.MonkeyPatch) -> None:
    assert refusal(monkeypatch, GATEWAY_XYZZY="1") == ["unknown setting GATEWAY_XYZZY"]


def test_about_equally_close_settings_are_all_suggested(monkeypatch: pytest.MonkeyPatch) -> None:
    assert refusal(monkeypatch, GATEWAY_VALIDATION__FOO="1") == [
        "unknown setting GATEWAY_VALIDATION__FOO"
        " (did you mean GATEWAY_VALIDATION__EVALUATION or GATEWAY_VALIDATION__RULE_SET?)"
    ]


def test_every_unknown_variable_is_named_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    messages = refusal(monkeypatch, GATEWAY_WORKER__LEASE_SECOND="60", GATEWAY_MAIL__HOTS="smtp.coop.test")
    assert messages == [
        "unknown setting GATEWAY_MAIL__HOTS (did you mean GATEWAY_MAIL__HOST?)",
        "unknown setting GATEWAY_WORKER__LEASE_SECOND (did you mean GATEWAY_WORKER__LEASE_SECONDS?)",
    ]


def test_names_match_in_any_case_as_pydantic_settings_reads_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("gateway_log_level", "DEBUG")
    monkeypatch.setenv("Gateway_Mail__Host", "smtp.coop.test")
    settings = Settings()
    assert (settings.log_level, settings.mail.host) == ("DEBUG", "smtp.coop.test")
    # A misspelt one in lower case is refused too, named as written.
    assert refusal(monkeypatch, gateway_mail__prot="2525") == [
        "unknown setting gateway_mail__prot (did you mean GATEWAY_MAIL__PORT?)"
    ]


def test_an_alias_and_the_name_it_stands_for_are_both_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_MAIL__FROM", "factures@coop.test")
    assert Settings().mail.sender == "factures@coop.test"
    monkeypatch.delenv("GATEWAY_MAIL__FROM")
    monkeypatch.setenv("GATEWAY_MAIL__SENDER", "achats@coop.test")  # populate_by_name: read as well
    assert Settings().mail.sender == "achats@coop.test"


def test_the_sender_given_under_both_its_names_is_refused_as_such(monkeypatch: pytest.MonkeyPatch) -> None:
    # Not "mail.sender: Extra inputs are not permitted": ``sender`` is a setting, given twice.
    assert refusal(monkeypatch, GATEWAY_MAIL__FROM="a@coop.test", GATEWAY_MAIL__SENDER="b@coop.test") == [
        "Value error, from and sender are one setting (GATEWAY_MAIL__FROM or GATEWAY_MAIL__SENDER): give one"
    ]


def test_a_whole_group_as_json_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_MAIL", '{"host": "smtp.coop.test"}')
    assert Settings().mail.host == "smtp.coop.test"


@pytest.mark.parametrize(
    ("variable", "value", "location"),
    [
        ("GATEWAY_MAIL", '{"hots": "smtp.coop.test"}', ("mail", "hots")),  # a group as JSON
        # An entry of a JSON list: the misspelt role would otherwise be missing (or left at a default).
        (
            "GATEWAY_API__KEYS",
            '[{"name": "billing", "key": "' + SECRET + '", "rol": "admin"}]',
            ("api", "keys", 0, "rol"),
        ),
    ],
)
def test_a_key_inside_a_json_value_that_names_no_setting_is_refused(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, location: tuple[object, ...]
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError) as caught:
        Settings()
    refused = [problem for problem in caught.value.errors() if problem["type"] == "extra_forbidden"]
    assert [problem["loc"] for problem in refused] == [location]
    assert SECRET not in str(caught.value)


def test_the_cli_names_a_misspelt_json_key_without_its_value(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GATEWAY_KEYSTORE", '{"pasword": "' + SECRET + '"}')
    assert main(["artefacts", "list"]) == 2
    err = capsys.readouterr().err
    assert "keystore.pasword: Extra inputs are not permitted" in err
    assert SECRET not in err


@pytest.mark.parametrize(
    "variable",
    [
        "GATEWAY_TEST_POSTGRES_URL",
        "GATEWAY_TEST_REQUIRE_POSTGRES",
        "GATEWAY_TEST_ANYTHING",
        "GATEWAY_SHARED_DIR",
    ],
)
def test_the_variables_of_the_test_suite_are_allowed(monkeypatch: pytest.MonkeyPatch, variable: str) -> None:
    monkeypatch.setenv(variable, "1")
    assert Settings().log_level == "INFO"


def test_variables_without_the_prefix_are_not_looked_at() -> None:
    environ = {"GATEWAYS_X": "1", "MY_GATEWAY_X": "1", "PATH": "/usr/bin"}
    assert unknown_variables(environ, Settings) == {}


def test_the_allowed_names_are_no_settings() -> None:
    # Were one a setting, the gateway would read the test suite's value.
    assert not NOT_SETTINGS & setting_variables(Settings, "GATEWAY_", "__")


def test_the_settings_own_fields_have_no_alias() -> None:
    # pydantic-settings reads an aliased top-level field by the alias alone, without the prefix; the walk of
    # gateway.config.variables would then accept a name that is not read. Teach it that first.
    assert all(
        field.alias is None and field.validation_alias is None for field in Settings.model_fields.values()
    )


class _Inner(BaseModel):
    x: int = 0


class _Outer(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="T_", env_nested_delimiter="__", extra="ignore")
    inner: _Inner | None = None
    y: int = 0


class _CaseSensitive(_Outer):
    model_config = SettingsConfigDict(case_sensitive=True)


def test_the_names_are_those_pydantic_settings_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    # An optional model is filled from the variables below it too; case-sensitive settings read exact names.
    environ = {"T_INNER__X": "5", "T_INNER__Z": "1", "T_y": "3", "T_Y__Q": "1"}
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    outer, exact = _Outer(), _CaseSensitive()
    assert (outer.inner, outer.y, exact.inner, exact.y) == (_Inner(x=5), 3, None, 3)
    assert set(unknown_variables(environ, _Outer)) == {"T_INNER__Z", "T_Y__Q"}
    assert set(unknown_variables(environ, _CaseSensitive)) == {"T_INNER__X", "T_INNER__Z", "T_Y__Q"}


def test_the_value_of_an_unknown_variable_is_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_KEYSTORE__PASWORD", SECRET)
    with pytest.raises(ValidationError) as caught:
        Settings()
    assert "GATEWAY_KEYSTORE__PASWORD (did you mean GATEWAY_KEYSTORE__PASSWORD?)" in str(caught.value)
    assert SECRET not in str(caught.value)
    assert SECRET not in repr(caught.value.errors(include_input=True, include_context=True))


def test_the_cli_refuses_a_misspelt_variable_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GATEWAY_KEYSTORE__PASWORD", SECRET)
    assert main(["artefacts", "list"]) == 2
    err = capsys.readouterr().err
    assert err == (
        "gateway: invalid settings:\n"
        "  settings: unknown setting GATEWAY_KEYSTORE__PASWORD (did you mean GATEWAY_KEYSTORE__PASSWORD?)\n"
    )


def test_the_cli_reports_json_that_does_not_parse_in_one_line_without_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(
        "GATEWAY_API__KEYS", '[{"name": "billing", "key": "' + SECRET + '",}]'
    )  # trailing comma
    assert main(["artefacts", "list"]) == 2
    err = capsys.readouterr().err
    assert err.startswith('gateway: invalid settings:\n  error parsing value for field "api"')
    assert "not JSON (Expecting property name enclosed in double quotes at line 1, column" in err
    assert SECRET not in err
    assert len(err.splitlines()) == 2


def test_gateway_serve_does_not_start_with_a_misspelt_variable(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("GATEWAY_")}
    env |= {
        "GATEWAY_DATABASE__URL": f"sqlite:///{tmp_path}/gateway.db",
        "GATEWAY_TRUSTSTORE__STAGE": "development",
        "GATEWAY_DISCOVERY__SML_ZONES": "test",
    }
    run = subprocess.run(
        [sys.executable, "-m", "gateway.cli.main", "serve", "--port", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 2
    assert (
        "unknown setting GATEWAY_DISCOVERY__SML_ZONES (did you mean GATEWAY_DISCOVERY__SML_ZONE?)"
        in run.stderr
    )
    assert "Traceback" not in run.stderr


#: What Kubernetes gives every container of a namespace holding a Service ``gateway`` (as kompose names the
#: one of docker/compose.yaml; port 8080, named ``http``) and a Service ``gateway-db`` (PostgreSQL).
SERVICE_LINKS = {
    "GATEWAY_SERVICE_HOST": "10.0.0.11",
    "GATEWAY_SERVICE_PORT": "8080",
    "GATEWAY_SERVICE_PORT_HTTP": "8080",
    "GATEWAY_PORT": "tcp://10.0.0.11:8080",
    "GATEWAY_PORT_8080_TCP": "tcp://10.0.0.11:8080",
    "GATEWAY_PORT_8080_TCP_PROTO": "tcp",
    "GATEWAY_PORT_8080_TCP_PORT": "8080",
    "GATEWAY_PORT_8080_TCP_ADDR": "10.0.0.11",
    "GATEWAY_DB_SERVICE_HOST": "10.0.0.12",
    "GATEWAY_DB_SERVICE_PORT": "5432",
    "GATEWAY_DB_PORT": "tcp://[fd00::12]:5432",
    "GATEWAY_DB_PORT_5432_TCP": "tcp://[fd00::12]:5432",
    "GATEWAY_DB_PORT_5432_TCP_PROTO": "tcp",
    "GATEWAY_DB_PORT_5432_TCP_PORT": "5432",
    "GATEWAY_DB_PORT_5432_TCP_ADDR": "fd00::12",
}


def test_the_variables_of_kubernetes_service_links_are_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    # Kubernetes sets them in every pod (enableServiceLinks defaults to true): a gateway deployed behind a
    # Service named after it must start.
    for name, value in SERVICE_LINKS.items():
        monkeypatch.setenv(name, value)
    assert Settings().log_level == "INFO"


@pytest.mark.parametrize(
    "variable",
    ["GATEWAY_PORT", "GATEWAY_MAIL_PORT", "GATEWAY_SERVER_PORT", "GATEWAY_PORT_8080", "GATEWAY_HOST"],
)
def test_a_port_that_is_no_service_link_is_still_refused(
    monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    # ``GATEWAY_PORT=8080`` is someone's setting that names nothing, not the address of a Service.
    assert refusal(monkeypatch, **{variable: "8080"})[0].startswith(f"unknown setting {variable}")


def test_no_setting_looks_like_a_service_link() -> None:
    # Were one named so (or so but for a ``__`` written ``_``), the exemption would hide its misspellings.
    settings = {name.upper() for name in setting_variables(Settings, "GATEWAY_", "__")}
    assert not unknown_variables(SERVICE_LINKS, Settings)
    assert not {name for name in settings if service_link(name, "", "GATEWAY_")}
    assert not {name for name in settings if service_link(name.replace("__", "_"), "", "GATEWAY_")}


def test_a_keyword_naming_no_setting_is_refused_with_the_real_name_never_its_value() -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(log_levl="DEBUG", workers={"max_in_flight": SECRET})  # type: ignore[call-arg]
    messages = [problem["msg"] for problem in caught.value.errors()]
    assert messages == [
        "unknown setting log_levl (did you mean log_level?)",
        "unknown setting workers (did you mean worker?)",
    ]
    assert SECRET not in str(caught.value)


def test_the_settings_own_keywords_still_pass() -> None:
    assert Settings(log_level="DEBUG", _env_file=None).log_level == "DEBUG"  # type: ignore[call-arg]
