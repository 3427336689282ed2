"""Fixtures of the fused generator's tests: the official 3.0.21 CEN and Peppol stylesheets, the VAT-category
corpus (``vat_corpus``) and the Saxon processor its outcomes are read with."""

from __future__ import annotations

from pathlib import Path

import pytest
from saxonche import PySaxonProcessor

from tests.unit.validation.fused.vat_corpus import LAYERS, PROCESSOR, RELEASE, vat_documents


@pytest.fixture(scope="module")
def saxon() -> PySaxonProcessor:
    return PROCESSOR


@pytest.fixture(scope="module")
def officials(artefacts_dir: Path) -> list[bytes]:
    return [(artefacts_dir / RELEASE / "xslt" / name).read_bytes() for name in LAYERS]


@pytest.fixture(scope="module")
def documents(artefacts_dir: Path) -> list[tuple[str, str]]:
    return vat_documents(artefacts_dir)
