"""A large document handed to validation in a ``HeldDocument`` is out of the process while Saxon parses and
transforms it, and read back intact after; its temporary file never has a name on disk (README, *Memory,
fifteenth pass*)."""

from __future__ import annotations

import os
import tempfile
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from gateway.bench.large import many_lines_invoice
from gateway.validation import ValidationEngine
from gateway.validation.held import HeldDocument


@pytest.fixture(scope="module")
def large() -> bytes:
    """An invoice of 1,400 lines (≈ 1.15 MB: the streamed path) with a finding on its first line."""
    xml = many_lines_invoice(1400, tag="held").ubl.replace(b'unitCode="', b'unitCode="XX', 1)
    assert len(xml) > 1024 * 1024
    return xml


def _open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_spilled_bytes_leave_the_object_and_come_back_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    data = os.urandom(300_000)
    held = HeldDocument(data)
    descriptors = _open_descriptors()
    with held.spilled() as spilled:
        assert spilled
        assert not held.in_memory
        assert list(tmp_path.iterdir()) == []  # unlinked at once: no name a crash could leave behind
        assert len(held) == len(data)
    assert held.in_memory
    assert held.data() == data
    assert _open_descriptors() == descriptors
    with pytest.raises(RuntimeError), held.spilled():  # read back whatever the block raised
        raise RuntimeError
    assert held.data() == data
    assert _open_descriptors() == descriptors


def test_data_asked_for_while_spilled_is_read_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    held = HeldDocument(b"<a/>" * 1000)
    with held.spilled() as spilled:
        assert spilled
        assert held.data() == b"<a/>" * 1000
        with held.spilled() as again:  # already spilled: nothing more
            assert not again
    assert held.data() == b"<a/>" * 1000


def test_without_a_temporary_directory_the_bytes_stay(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "missing"))
    held = HeldDocument(b"<a/>")
    with held.spilled() as spilled:
        assert not spilled
        assert held.in_memory
    assert held.data() == b"<a/>"


def test_the_bytes_are_out_of_the_process_while_saxon_parses_and_transforms(
    validation_engine: ValidationEngine, large: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Checked where Saxon parses the file and where the fused transform runs; the report is the one of the
    bytes validated as before, and the bytes are read back intact."""
    expected = validation_engine.validate(large)
    assert any(f.rule == "BR-CL-23" for f in expected.findings)
    held = HeldDocument(bytes(large))
    runtime: Any = validation_engine._runtime
    shared: Any = validation_engine.compiled().shared
    parse_file, outputs = runtime.parse_file, shared.outputs
    seen: list[tuple[str, bool]] = []

    def parsing(path: str) -> Any:
        seen.append(("parse", held.in_memory))
        return parse_file(path)

    def transforming(node: Any) -> Any:
        seen.append(("transform", held.in_memory))
        return outputs(node)

    monkeypatch.setattr(runtime, "parse_file", parsing)
    monkeypatch.setattr(shared, "outputs", transforming)
    assert validation_engine.validate(held) == expected
    assert seen == [("parse", False), ("transform", False)]
    assert held.in_memory
    assert held.data() == large


def test_a_small_held_document_is_not_spilled(
    validation_engine: ValidationEngine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Below the streamed path's threshold (the e2e examples): the tree path as before, no file."""
    small = many_lines_invoice(20, tag="held").ubl
    expected = validation_engine.validate(small)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    made: list[object] = []
    real = tempfile.mkstemp

    def counting(*args: Any, **kwargs: Any) -> Any:
        made.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", counting)
    held = HeldDocument(small)
    assert validation_engine.validate(held) == expected
    assert made == []
    assert held.in_memory


def test_python_holds_less_than_the_document_while_saxon_transforms_it(
    validation_engine: ValidationEngine, large: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Python's memory at the transform, the document's bytes included (allocated under tracemalloc): with
    plain bytes they are held (≥ 1× the document); held, only what validation itself keeps."""
    validation_engine.validate(large)  # compiled and warm
    shared: Any = validation_engine.compiled().shared
    outputs = shared.outputs
    at_transform: list[int] = []

    def transforming(node: Any) -> Any:
        at_transform.append(tracemalloc.get_traced_memory()[0])
        return outputs(node)

    monkeypatch.setattr(shared, "outputs", transforming)
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        plain = bytes(bytearray(large))  # a copy allocated under tracemalloc
        validation_engine.validate(plain)
        del plain
        held = HeldDocument(bytes(bytearray(large)))
        validation_engine.validate(held)
        assert held.data() == large
    finally:
        tracemalloc.stop()
    as_bytes, as_held = (value - start for value in at_transform)
    assert as_bytes >= len(large), as_bytes / len(large)
    assert as_held < 0.25 * len(large), as_held / len(large)
