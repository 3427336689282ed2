"""The artefact manifest (schemas/ubl/manifest.json): pinned files, rule sets and their effective dates.

The manifest is data: a new BIS release (e.g. 3.0.22, mandatory 2027-02-24) is added by listing its files
and one ``rule_sets`` entry, without code changes. Loading it reads one local JSON file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any, Final

from gateway.errors import ArtefactError, UnknownRuleSet
from gateway.validation.report import Layer

#: The manifest shipped with the project checkout.
DEFAULT_MANIFEST_PATH: Final = Path(__file__).resolve().parents[2] / "schemas" / "ubl" / "manifest.json"
#: The rule set in force today (2026-11-23): BIS Billing 3.0.21, mandatory since 2026-08-24.
DEFAULT_RULE_SET_ID: Final = "peppol-bis-billing-3.0.21"

#: ``RuleSet.document`` of the BIS Billing rule sets (the only ones ``rule_set_for`` chooses among).
BILLING_DOCUMENT: Final = "billing"

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class LayerKind(StrEnum):
    """How a Schematron layer is delivered: a ready compiled XSLT, or a .sch compiled by the gateway."""

    XSLT = "xslt"
    SCHEMATRON = "schematron"


@dataclass(frozen=True, slots=True)
class ArtefactFile:
    """One pinned file.

    Attributes:
        path: relative POSIX path inside the mirror / cache (e.g. "ubl-2.1/xsd/maindoc/UBL-Invoice-2.1.xsd").
        package: id of the package the file belongs to.
        sha256: lower-case hex SHA-256 of the exact bytes.
        size: size in bytes.
        url: upstream download URL, or None when none is known.
        url_verified: False when the URL follows the documented upstream layout but was not fetched.
    """

    path: str
    package: str
    sha256: str
    size: int
    url: str | None
    url_verified: bool


@dataclass(frozen=True, slots=True)
class Package:
    """A versioned upstream distribution (UBL 2.1, CEN 1.3.16, ...)."""

    id: str
    title: str
    version: str
    published: date | None
    upstream: str
    licence: str


@dataclass(frozen=True, slots=True)
class LayerSpec:
    """A Schematron layer of a rule set.

    Attributes:
        layer: cen or peppol.
        kind: xslt (official compiled) or schematron (compiled by gateway.validation.schematron).
        main: path of the XSLT or of the main .sch.
        includes: paths of the files ``main`` includes (Schematron sources only).
    """

    layer: Layer
    kind: LayerKind
    main: str
    includes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RuleSet:
    """A validation rule set: the UBL XSDs plus the CEN and Peppol Schematron layers of one release.

    Attributes:
        id: e.g. "peppol-bis-billing-3.0.21".
        title: human-readable description.
        bis_release / cen_release: the versions of the rules.
        published: publication date of the release.
        effective_from: the day the release becomes mandatory.
        xsd_package: the package holding the XSD tree.
        xsd_roots: "{namespace} localname" of an accepted root -> path of its main XSD.
        layers: the Schematron layers in run order.
        document: what the rule set validates: ``billing`` (Invoice, CreditNote; the default),
            ``invoice-response`` (T111) or ``mls``. Only billing rule sets take part in ``rule_set_for``.
    """

    id: str
    title: str
    bis_release: str
    cen_release: str
    published: date | None
    effective_from: date
    xsd_package: str
    xsd_roots: Mapping[str, str]
    layers: tuple[LayerSpec, ...]
    document: str = BILLING_DOCUMENT


@dataclass(frozen=True, slots=True)
class Manifest:
    """The parsed manifest: packages, files by path and rule sets by id."""

    packages: Mapping[str, Package]
    files: Mapping[str, ArtefactFile]
    rule_sets: Mapping[str, RuleSet]

    def file(self, path: str) -> ArtefactFile:
        """Return the pinned file at ``path``.

        Raises:
            ArtefactError: the path is not in the manifest.
        """
        try:
            return self.files[path]
        except KeyError:
            raise ArtefactError(f"{path} is not pinned in the artefact manifest") from None

    def rule_set(self, rule_set_id: str) -> RuleSet:
        """Return the rule set ``rule_set_id``.

        Raises:
            ArtefactError: unknown id (the message lists the known ones).
        """
        try:
            return self.rule_sets[rule_set_id]
        except KeyError:
            known = ", ".join(sorted(self.rule_sets))
            raise UnknownRuleSet(f"unknown rule set {rule_set_id!r} (known: {known})") from None

    def files_of(self, rule_set_id: str) -> tuple[ArtefactFile, ...]:
        """Every file the rule set loads: its whole XSD package and each layer's main file and includes."""
        rs = self.rule_set(rule_set_id)
        paths = [f.path for f in self.files.values() if f.package == rs.xsd_package]
        for spec in rs.layers:
            paths.extend((spec.main, *spec.includes))
        return tuple(self.file(p) for p in dict.fromkeys(paths))

    def rule_set_for(self, day: date) -> RuleSet:
        """Return the newest rule set that is mandatory on ``day`` (largest ``effective_from`` <= day).

        Raises:
            ArtefactError: no rule set is in force on that day.
        """
        in_force = [
            rs
            for rs in self.rule_sets.values()
            if rs.effective_from <= day and rs.document == BILLING_DOCUMENT
        ]
        if not in_force:
            raise ArtefactError(f"no rule set in the manifest is in force on {day.isoformat()}")
        # Ties (two rule sets with the same date) resolve to the one listed first in the manifest.
        return max(in_force, key=lambda rs: rs.effective_from)


def _date(value: Any) -> date | None:
    return None if value is None else date.fromisoformat(str(value))


def parse_manifest(data: bytes | str) -> Manifest:
    """Parse and check a manifest document.

    Args:
        data: the JSON text.

    Returns:
        The manifest.

    Raises:
        ArtefactError: malformed JSON, a bad checksum field, or a rule set naming an unpinned file.
    """
    try:
        raw = json.loads(data)
        packages = {
            pid: Package(
                id=pid,
                title=p["title"],
                version=p["version"],
                published=_date(p.get("published")),
                upstream=p["upstream"],
                licence=p.get("licence", ""),
            )
            for pid, p in raw["packages"].items()
        }
        files: dict[str, ArtefactFile] = {}
        for f in raw["files"]:
            entry = ArtefactFile(
                path=f["path"],
                package=f["package"],
                sha256=f["sha256"].lower(),
                size=int(f["size"]),
                url=f.get("url"),
                url_verified=bool(f.get("url_verified", False)),
            )
            if not _SHA256.match(entry.sha256):
                raise ArtefactError(f"manifest: {entry.path} has a malformed sha256 {entry.sha256!r}")
            if entry.package not in packages:
                raise ArtefactError(f"manifest: {entry.path} names unknown package {entry.package!r}")
            if entry.path.startswith("/") or ".." in entry.path.split("/"):
                raise ArtefactError(f"manifest: {entry.path!r} must be a relative path inside the mirror")
            files[entry.path] = entry
        rule_sets: dict[str, RuleSet] = {}
        for r in raw["rule_sets"]:
            layers = tuple(
                LayerSpec(
                    layer=Layer(spec["layer"]),
                    kind=LayerKind(spec["kind"]),
                    main=spec["main"],
                    includes=tuple(spec.get("includes", ())),
                )
                for spec in r["layers"]
            )
            rs = RuleSet(
                id=r["id"],
                title=r["title"],
                bis_release=r["bis_release"],
                cen_release=r["cen_release"],
                published=_date(r.get("published")),
                effective_from=date.fromisoformat(r["effective_from"]),
                xsd_package=r["xsd"]["package"],
                xsd_roots=dict(r["xsd"]["roots"]),
                layers=layers,
                document=str(r.get("document", BILLING_DOCUMENT)),
            )
            referenced = [*rs.xsd_roots.values()] + [p for s in layers for p in (s.main, *s.includes)]
            missing = [p for p in referenced if p not in files]
            if missing:
                raise ArtefactError(f"manifest: rule set {rs.id} uses unpinned files {missing}")
            if rs.id in rule_sets:
                raise ArtefactError(f"manifest: rule set {rs.id} is listed twice")
            rule_sets[rs.id] = rs
    except ArtefactError:
        raise
    except (ValueError, KeyError, TypeError) as exc:
        raise ArtefactError(f"artefact manifest is malformed: {exc!r}") from exc
    return Manifest(packages=packages, files=files, rule_sets=rule_sets)


def load_manifest(path: Path | None = None) -> Manifest:
    """Read and parse a manifest file (default: the project's schemas/ubl/manifest.json).

    Raises:
        ArtefactError: the file is missing or malformed.
    """
    if path is None:
        return _default_manifest()
    try:
        return parse_manifest(path.read_bytes())
    except OSError as exc:
        raise ArtefactError(f"cannot read artefact manifest {path}: {exc}") from exc


@cache
def _default_manifest() -> Manifest:
    # Read on first use, never at import time (house style: no import-time globals).
    return load_manifest(DEFAULT_MANIFEST_PATH)


def rule_set_for(day: date, manifest: Manifest) -> str:
    """Return the id of the rule set mandatory on ``day`` in ``manifest``.

    Args:
        day: the day of validation (the caller passes it; the core never reads the clock).
        manifest: the manifest in use: the configured one (``GATEWAY_ARTEFACTS__MANIFEST``), i.e. the
            validation engine's ``store.manifest``; there is no implicit default.

    Raises:
        ArtefactError: no rule set is in force on that day.
    """
    return manifest.rule_set_for(day).id


class _RuleSetIndex(Mapping[str, RuleSet]):
    """Read-only view of the project manifest's rule sets, loaded lazily on first access."""

    def __getitem__(self, key: str) -> RuleSet:
        return load_manifest().rule_sets[key]

    def __iter__(self) -> Iterator[str]:
        return iter(load_manifest().rule_sets)

    def __len__(self) -> int:
        return len(load_manifest().rule_sets)

    def __repr__(self) -> str:
        return f"RULE_SETS({list(self)})"


#: Rule sets of the project manifest by id (lazy: reading happens on first access).
RULE_SETS: Final[Mapping[str, RuleSet]] = _RuleSetIndex()
