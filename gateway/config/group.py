"""``SettingsGroup``: the base of every group of settings, and of the settings given as JSON objects."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class SettingsGroup(BaseModel):
    """A group of settings (``GATEWAY_<GROUP>__…``), or one entry of a JSON list such as
    ``GATEWAY_API__KEYS``.

    A key that names none of its fields is refused, not ignored: ``GATEWAY_MAIL='{"hots": "smtp.example"}'``
    or an API key written ``{"name": "billing", "rol": "admin"}`` would otherwise leave the default in place
    without a word (the variables' own names are checked by ``gateway.config.variables``)."""

    model_config = ConfigDict(extra="forbid")
