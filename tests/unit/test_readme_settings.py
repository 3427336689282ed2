"""The README's configuration table names every setting of ``gateway/config``, and only those."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel

from gateway.config import Settings
from gateway.config.variables import unknown_variables

README = Path(__file__).parents[2] / "README.md"
# Read nowhere in the code yet (kept for the AS4 endpoint URL we publish); not documented until it is used.
UNDOCUMENTED = {"GATEWAY_AS4__PUBLIC_URL"}


def _variables(model: type[BaseModel], prefix: str) -> set[str]:
    names: set[str] = set()
    for name, field in model.model_fields.items():
        variable = prefix + (field.alias or name).upper()
        kind = field.annotation
        if isinstance(kind, type) and issubclass(kind, BaseModel) and kind.__name__.endswith("Settings"):
            names |= _variables(kind, variable + "__")
        else:
            names.add(variable)
    return names


def _documented() -> set[str]:
    """Variables named in the first column of the table; ``__NAME`` continues the row's first group.

    A row ``GATEWAY_GROUP__…`` lists the group's fields in its meaning column instead.
    """
    names: set[str] = set()
    for row in README.read_text(encoding="utf-8").splitlines():
        if not row.startswith("| `GATEWAY_"):
            continue
        cells = row.split("|")
        whole_group = re.fullmatch(r" `(GATEWAY_[A-Z0-9_]+)__…` ", cells[1])
        if whole_group:
            names |= {f"{whole_group[1]}__{name}" for name in re.findall(r"`([A-Z0-9_]+)`", cells[3])}
            continue
        group = "GATEWAY"
        for name in re.findall(r"`([A-Z0-9_]+)`", row.split("|")[1]):
            if name.startswith("__"):
                names.add(group + name)
            else:
                group = name.rsplit("__", 1)[0] if "__" in name else "GATEWAY"
                names.add(name)
    return names


def test_every_setting_is_in_the_readme_table() -> None:
    missing = _variables(Settings, "GATEWAY_") - UNDOCUMENTED - _documented()
    assert not missing, f"settings missing from README.md's configuration table: {sorted(missing)}"


def test_the_readme_table_names_only_real_settings() -> None:
    unknown = _documented() - _variables(Settings, "GATEWAY_")
    assert not unknown, f"README.md names settings that gateway/config does not have: {sorted(unknown)}"


def test_every_documented_variable_is_accepted_at_start_up() -> None:
    # Building Settings refuses a GATEWAY_ variable that names no setting (gateway.config.variables).
    documented = _documented() | UNDOCUMENTED
    assert unknown_variables(dict.fromkeys(documented, "value"), Settings) == {}
