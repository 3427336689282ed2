"""Settings of the gateway, read from the environment (prefix ``GATEWAY_``, nested with ``__``), one
module per area: ``access`` (API keys, roles, pages), ``exchange`` (keys, trust, AS4, discovery),
``documents`` (artefacts, validation, answers, expenses, reporting, PDF printing) and ``operations``
(database, worker, webhooks, mail, retention, server).

Only entry points (CLI, API factory, worker) build :class:`Settings`; everything below receives plain
values or frozen policy objects. Secrets are ``SecretStr`` and never logged. Validators refuse unsafe
combinations at start-up rather than at the first request, and a ``GATEWAY_`` variable that names no setting
is refused rather than ignored (``variables``).
"""

from __future__ import annotations

import os
import re
from typing import Annotated, Any, Final, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from gateway.config.access import APIKey, APISettings, Role, WebSettings
from gateway.config.documents import (
    PROJECT_ROOT,
    ROUTING_RULE_NAMES,
    ArtefactSettings,
    ExpenseSettings,
    RenderSettings,
    ReportingSettings,
    ResponseSettings,
    RoutingRuleName,
    ValidationSettings,
)
from gateway.config.exchange import (
    AS4Settings,
    DirectorySettings,
    DiscoverySettings,
    KeystoreSettings,
    TruststoreSettings,
)
from gateway.config.operations import (
    LEASE_MARGIN_SECONDS,
    DatabaseSettings,
    MailSettings,
    RetentionSettings,
    ServerSettings,
    WebhookSettings,
    WorkerSettings,
)
from gateway.config.variables import refuse_unknown_arguments, refuse_unknown_variables
from gateway.errors import InvalidIdentifier
from gateway.model.identifiers import ParticipantID, is_valid_be_enterprise_number
from gateway.smp.sml import SMLZone, zone_by_name

#: SML zones of test networks (peppol-as4.md §9.1): refused by a production gateway.
_TEST_SML_ZONES: Final = frozenset({SMLZone.TEST.value, "acc.edelivery.tech.ec.europa.eu."})


class Settings(BaseSettings):
    """All settings; see README.md for the environment variables."""

    model_config = SettingsConfigDict(
        env_prefix="GATEWAY_",
        env_nested_delimiter="__",
        extra="ignore",
    )

    artefacts: ArtefactSettings = Field(default_factory=ArtefactSettings)
    validation: ValidationSettings = Field(default_factory=ValidationSettings)
    keystore: KeystoreSettings = Field(default_factory=KeystoreSettings)
    truststore: TruststoreSettings = Field(default_factory=TruststoreSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    api: APISettings = Field(default_factory=APISettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    as4: AS4Settings = Field(default_factory=AS4Settings)
    directory: DirectorySettings = Field(default_factory=DirectorySettings)
    discovery: DiscoverySettings = Field(default_factory=DiscoverySettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    webhooks: WebhookSettings = Field(default_factory=WebhookSettings)
    mail: MailSettings = Field(default_factory=MailSettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    responses: ResponseSettings = Field(default_factory=ResponseSettings)
    expenses: ExpenseSettings = Field(default_factory=ExpenseSettings)
    web: WebSettings = Field(default_factory=WebSettings)
    reporting: ReportingSettings = Field(default_factory=ReportingSettings)
    render: RenderSettings = Field(default_factory=RenderSettings)
    seller_id: str = "0208:0739484052"  # the cooperative's participant id: (seller, type, number) is unique
    # Our VAT number (BT-31) if not BE + the enterprise number: a VAT unit's (services.seller_identity).
    seller_vat_number: str | None = None
    # Our legal name, which every outbound BT-27 must be (services.seller_identity); None: not checked.
    seller_name: str | None = None
    log_format: Literal["json", "text"] = "text"
    log_level: Annotated[str, Field(pattern="^(DEBUG|INFO|WARNING|ERROR)$")] = "INFO"

    def __init__(self, **values: Any) -> None:
        # A GATEWAY_ variable naming no setting (a typo) is refused, not ignored: gateway.config.variables.
        refuse_unknown_variables(os.environ, type(self))
        refuse_unknown_arguments(values, type(self))  # and so is a keyword naming none (``log_levl=``)
        super().__init__(**values)

    @field_validator("seller_id")
    @classmethod
    def _seller_is_a_participant(cls, value: str) -> str:
        # Every outbound submission compares its BT-34 with it (services.outbound): refused here, not there.
        try:
            ParticipantID.parse(value)
        except InvalidIdentifier as exc:
            raise ValueError(f"seller_id {value!r} is not a Peppol participant id ({exc})") from exc
        return value

    @field_validator("seller_vat_number")
    @classmethod
    def _vat_number_is_belgian(cls, value: str | None) -> str | None:
        # A VAT unit's number: BE and 10 digits passing the KBO/BCE mod-97 check, kept compact (BE0123456749).
        if value is None:
            return None
        compact = re.sub(r"[\s.\-]", "", value).upper()
        if not (re.fullmatch(r"BE[0-9]{10}", compact) and is_valid_be_enterprise_number(compact[2:])):
            raise ValueError(
                f"seller_vat_number {value!r} is not a Belgian VAT number (BE and 10 digits, mod-97 check)"
            )
        return compact

    @field_validator("seller_name")
    @classmethod
    def _name_is_not_blank(cls, value: str | None) -> str | None:
        # A blank name would refuse every document: an empty variable is a mistake, not "no check".
        if value is None:
            return None
        if not value.strip():
            raise ValueError("seller_name is blank: set the cooperative's legal name, or leave it unset")
        return value.strip()

    @model_validator(mode="after")
    def _vat_number_of_a_belgian_seller(self) -> Settings:
        # Only a seller id naming a Belgian enterprise number has its seller ids checked (services.outbound).
        if self.seller_vat_number is None:
            return self
        icd, _, number = ParticipantID.parse(self.seller_id).enterprise_key.partition(":")
        if icd != "0208" or not is_valid_be_enterprise_number(number):
            raise ValueError(
                "seller_vat_number needs a seller_id naming a Belgian enterprise (0208:<number> or "
                f"9925:BE<number>), not {self.seller_id!r}"
            )
        return self

    @field_validator("truststore")
    @classmethod
    def _no_production_with_test_anchors(cls, value: TruststoreSettings) -> TruststoreSettings:
        # A production stage trusting a TEST or development CA would accept forged senders.
        if value.stage == "production" and any("test" in p.name.lower() for p in value.paths):
            raise ValueError("truststore stage 'production' must not load TEST trust anchors")
        return value

    @model_validator(mode="after")
    def _discovery_of_the_stage(self) -> Settings:
        # peppol-as4.md §9.1-§9.2: a production AP must not find its receivers in the test SML, and SMPs are
        # read over HTTPS only (plain http is a development convenience towards loopback).
        discovery = self.discovery
        if self.truststore.stage != "production" or discovery.mode != "sml":
            return self
        zone = zone_by_name(discovery.sml_zone) if discovery.sml_zone else ""
        if zone in _TEST_SML_ZONES:
            raise ValueError("the production stage refuses the test SML zone (GATEWAY_DISCOVERY__SML_ZONE)")
        if discovery.smp_url is not None and urlsplit(discovery.smp_url).scheme != "https":
            raise ValueError("the production stage reads SMPs over https only (GATEWAY_DISCOVERY__SMP_URL)")
        return self


def secret_values(settings: Settings) -> list[str]:
    """Every secret value in the settings, so the log redactor can blank them wherever they appear."""
    values = [k.key.get_secret_value() for k in settings.api.keys if k.key is not None]
    for secret in (settings.keystore.password, settings.webhooks.secret, settings.mail.password):
        if secret is not None:
            values.append(secret.get_secret_value())
    return [v for v in values if v]


__all__ = [
    "LEASE_MARGIN_SECONDS",
    "PROJECT_ROOT",
    "ROUTING_RULE_NAMES",
    "APIKey",
    "APISettings",
    "AS4Settings",
    "ArtefactSettings",
    "DatabaseSettings",
    "DirectorySettings",
    "DiscoverySettings",
    "ExpenseSettings",
    "KeystoreSettings",
    "MailSettings",
    "RenderSettings",
    "ReportingSettings",
    "ResponseSettings",
    "RetentionSettings",
    "Role",
    "RoutingRuleName",
    "ServerSettings",
    "Settings",
    "TruststoreSettings",
    "ValidationSettings",
    "WebSettings",
    "WebhookSettings",
    "WorkerSettings",
    "secret_values",
]
