"""The engine hands the C heap's free pages back before Saxon parses a large document, and only then."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.validation import ValidationEngine
from gateway.validation import engine as engine_module
from gateway.validation.malloc_trim import release_free_heap


@pytest.fixture
def base_example(artefacts_dir: Path) -> bytes:
    return (artefacts_dir / "peppol-bis-billing-3.0.21/examples/base-example.xml").read_bytes()


def test_release_free_heap_runs() -> None:
    release_free_heap()  # glibc: trims (True or False: nothing to give back); elsewhere False
    assert isinstance(release_free_heap(), bool)


@pytest.mark.parametrize(("offset", "trims"), [(-1, 1), (0, 1), (1, 0)])
def test_documents_from_the_size_up_trim_before_saxon_parses(
    validation_engine: ValidationEngine,
    base_example: bytes,
    monkeypatch: pytest.MonkeyPatch,
    offset: int,
    trims: int,
) -> None:
    calls: list[str] = []
    monkeypatch.setattr(engine_module, "release_free_heap", lambda: calls.append("trim") or True)
    parse = validation_engine._saxon_node
    monkeypatch.setattr(validation_engine, "_saxon_node", lambda *a: calls.append("parse") or parse(*a))
    monkeypatch.setattr(validation_engine, "trim_above_bytes", len(base_example) + offset)
    report = validation_engine.validate(base_example)
    assert report.valid
    assert calls == ["trim"] * trims + ["parse"]


def test_zero_never_trims(
    validation_engine: ValidationEngine, base_example: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    monkeypatch.setattr(engine_module, "release_free_heap", lambda: calls.append("trim") or True)
    monkeypatch.setattr(validation_engine, "trim_above_bytes", 0)
    validation_engine.validate(base_example)
    assert calls == []
