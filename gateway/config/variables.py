"""The environment variables of the settings: one with the settings' prefix that names no setting is refused.

pydantic-settings ignores such a variable (``extra="ignore"``), so a misspelt one used to change nothing and
say nothing: ``GATEWAY_DOCUMENTS__SAXON_YOUNG_GENERATION_MIB`` for ``GATEWAY_VALIDATION__…``, or a typo in
``GATEWAY_TRUSTSTORE__STAGE`` that left the production default and skipped the start-up refusals of unsafe
combinations. The valid names come from the models themselves (:func:`setting_variables`), matched as
pydantic-settings matches them (the settings' ``case_sensitive``, by default not). Messages name variables,
never their values: those can be secrets.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Mapping
from types import UnionType
from typing import Any, Final, Union, get_args, get_origin

from pydantic import AliasChoices, BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import InitErrorDetails, PydanticCustomError, ValidationError

#: Variables with the prefix that are not settings: the gateway never reads them, the test suite and CI do.
#: Everything under ``GATEWAY_TEST_`` (``GATEWAY_TEST_POSTGRES_URL``, ``GATEWAY_TEST_REQUIRE_POSTGRES``:
#: tests/contract/store_databases.py, .ci/run) - a new one for the tests belongs there -, and by name
#: ``GATEWAY_SHARED_DIR`` (the artefact mirror of tests/conftest.py and tests/conformance). README's
#: ``GATEWAY_NAME=VALUE`` (``gateway bench … --set``) is a placeholder, not a variable.
NOT_SETTINGS_PREFIX: Final = "GATEWAY_TEST_"
NOT_SETTINGS: Final = frozenset({"GATEWAY_SHARED_DIR"})
#: Kubernetes gives every container the variables of each Service of its namespace (service links, on unless
#: the pod says ``enableServiceLinks: false``), named after the Service upper-cased, ``-`` read as ``_``: a
#: Service ``gateway`` (as kompose names the one of docker/compose.yaml) or ``gateway-db`` gives
#: ``GATEWAY_SERVICE_HOST``, ``GATEWAY_SERVICE_PORT`` (``_HTTP``: a named port), ``GATEWAY_PORT``
#: (``tcp://10.0.0.11:8080``) and ``GATEWAY_PORT_8080_TCP`` (``_PROTO``, ``_PORT``, ``_ADDR``). None is a
#: setting (test_setting_variables), and a ``…_PORT`` is one of them only with such an address as its value:
#: ``GATEWAY_PORT=8080`` is still refused.
_SERVICE_LINK: Final = (
    r"(?:[A-Z0-9_]+_)?"  # the rest of the Service's name
    r"(?:SERVICE_(?:HOST|PORT(?:_[A-Z0-9_]+)?)|PORT_\d+_(?:TCP|UDP|SCTP)(?:_(?:PROTO|PORT|ADDR))?)"
)
_SERVICE_LINK_PORT: Final = r"(?:[A-Z0-9_]+_)?PORT"
_SERVICE_ADDRESS: Final = re.compile(r"(?:tcp|udp|sctp)://\S+:\d+")

#: How alike (difflib's ratio, on the names without the prefix) a valid name must be to be suggested.
_SUGGESTION_CUTOFF: Final = 0.6
_SUGGESTIONS: Final = 3
#: ... and no less alike than the closest one by more than this: a clear typo gets one suggestion.
_SUGGESTION_MARGIN: Final = 0.05


def _nested_models(annotation: Any) -> list[type[BaseModel]]:
    """The models a field of this type holds directly (``X`` or ``X | None``): pydantic-settings fills them
    from variables below the field's, joined by the nested delimiter. A list of models is one value."""
    if get_origin(annotation) in (Union, UnionType):
        return [model for member in get_args(annotation) for model in _nested_models(member)]
    if get_origin(annotation) is None and isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return []


def _keys(model: type[BaseModel], name: str, field: FieldInfo) -> list[str]:
    """The keys a field is read by: its alias(es), and its name too when the model also validates by name
    (``MailSettings.sender``: ``FROM`` and ``SENDER``)."""
    aliases = [alias for alias in (field.validation_alias, field.alias) if isinstance(alias, str)]
    if isinstance(field.validation_alias, AliasChoices):
        aliases += [choice for choice in field.validation_alias.choices if isinstance(choice, str)]
    config = model.model_config
    by_name = bool(config.get("validate_by_name") or config.get("populate_by_name"))
    return list(dict.fromkeys([*aliases, name] if by_name or not aliases else aliases))


def setting_variables(
    model: type[BaseModel], prefix: str, delimiter: str | None, *, groups: bool = True
) -> frozenset[str]:
    """Every variable that names a setting of ``model``: each field as ``prefix`` + key, and, for a field
    holding a model, that model's fields below it after ``delimiter`` (none: no nesting). A field holding a
    model is itself a name too (its value a JSON object) unless ``groups`` is false. Keys as the models
    spell them: fold them for matching. The top level is read the same way as long as the settings' own
    fields carry no alias (pydantic-settings would read an aliased one without the prefix)."""
    names: set[str] = set()
    for name, field in model.model_fields.items():
        nested = _nested_models(field.annotation) if delimiter else []
        for key in _keys(model, name, field):
            variable = prefix + key
            if groups or not nested:
                names.add(variable)
            for inner in nested:
                names |= setting_variables(inner, variable + str(delimiter), delimiter, groups=groups)
    return frozenset(names)


def _suggestions(variable: str, candidates: Iterable[str], prefix: str) -> list[str]:
    """The settings closest to ``variable`` (difflib's ratio): the best one and any about as close. Compared
    without the prefix they all share, which would make every name look alike."""
    rest = variable[len(prefix) :]
    scored = sorted(
        ((difflib.SequenceMatcher(None, rest, name[len(prefix) :]).ratio(), name) for name in candidates),
        key=lambda pair: (-pair[0], pair[1]),
    )
    close = [(score, name) for score, name in scored[:_SUGGESTIONS] if score >= _SUGGESTION_CUTOFF]
    return [name for score, name in close if score >= close[0][0] - _SUGGESTION_MARGIN]


def service_link(name: str, value: str, prefix: str) -> bool:
    """Whether ``name`` (with ``prefix``, in upper case) and ``value`` are a variable of a Kubernetes
    Service link (:data:`_SERVICE_LINK`), not a setting."""
    if re.fullmatch(re.escape(prefix) + _SERVICE_LINK, name):
        return True
    port = re.fullmatch(re.escape(prefix) + _SERVICE_LINK_PORT, name)
    return bool(port and _SERVICE_ADDRESS.fullmatch(value))


def unknown_variables(environ: Mapping[str, str], settings: type[BaseModel]) -> dict[str, list[str]]:
    """The variables of ``environ`` that have the prefix of ``settings`` (a pydantic-settings class) but name
    none of its settings and are neither :data:`NOT_SETTINGS` nor a Kubernetes Service link's, sorted, each
    with the closest settings (those holding a single value: a whole group, as JSON, is accepted but never
    suggested)."""
    config: Mapping[str, Any] = settings.model_config
    fold: Callable[[str], str] = (lambda name: name) if config.get("case_sensitive") else str.upper
    env_prefix: str = config.get("env_prefix", "")
    if not env_prefix:
        return {}  # without a prefix the settings cannot tell their variables from any other
    prefix, delimiter = fold(env_prefix), config.get("env_nested_delimiter") or None
    valid = {fold(name) for name in setting_variables(settings, env_prefix, delimiter)}
    leaves = {fold(name) for name in setting_variables(settings, env_prefix, delimiter, groups=False)}
    not_settings = {fold(name) for name in NOT_SETTINGS}
    unknown: dict[str, list[str]] = {}
    for variable in sorted(environ):
        name = fold(variable)
        if not name.startswith(prefix) or name in valid:
            continue
        if name in not_settings or name.startswith(fold(NOT_SETTINGS_PREFIX)):
            continue
        if service_link(name.upper(), environ[variable], env_prefix.upper()):
            continue
        unknown[variable] = _suggestions(name, leaves, prefix)
    return unknown


def unknown_variable_message(variable: str, suggestions: list[str]) -> str:
    """``unknown setting GATEWAY_X (did you mean GATEWAY_Y?)``: the name only, never the value."""
    hint = f" (did you mean {' or '.join(suggestions)}?)" if suggestions else ""
    return f"unknown setting {variable}{hint}"


def refuse_unknown_variables(environ: Mapping[str, str], settings: type[BaseModel]) -> None:
    """Raise a :class:`ValidationError` naming every unknown variable of ``environ``: what building the
    settings raises for a bad value too, so entry points report both alike. Its inputs are the variables'
    names, not their values."""
    unknown = unknown_variables(environ, settings)
    if unknown:
        raise _unknown_settings(settings, unknown, located=False)


def refuse_unknown_arguments(values: Mapping[str, object], settings: type[BaseModel]) -> None:
    """Raise a :class:`ValidationError` naming every keyword of ``values`` (the settings built in code, e.g.
    ``Settings(log_levl="DEBUG")``) that names no field of ``settings``: the environment's typos are refused
    above, and a typo in code must not pass silently either. pydantic-settings' own keywords (``_env_file``
    and the like) start with an underscore and are left to it. Names only, never the values."""
    fields = settings.model_fields
    unknown = {
        name: _suggestions(name, fields, "")
        for name in sorted(values)
        if not name.startswith("_") and name not in fields
    }
    if unknown:
        raise _unknown_settings(settings, unknown, located=True)


def _unknown_settings(
    settings: type[BaseModel], unknown: Mapping[str, list[str]], *, located: bool
) -> ValidationError:
    """The error naming each unknown setting with its closest real ones (``unknown_variable_message``);
    ``located``: at the name (a keyword), else at the settings as a whole (a variable)."""
    return ValidationError.from_exception_data(
        settings.__name__,
        [
            InitErrorDetails(
                type=PydanticCustomError(
                    "unknown_setting", "{message}", {"message": unknown_variable_message(name, close)}
                ),
                loc=(name,) if located else (),
                input=name,
            )
            for name, close in unknown.items()
        ],
    )
