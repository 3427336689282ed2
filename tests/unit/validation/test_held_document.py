"""A large document handed to validation in a ``HeldDocument`` is out of the process while Saxon parses and
transforms it, and read back intact after; its temporary file never has a name on disk (BENCHMARKS.md,
*Memory, fifteenth pass*)."""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
import sys
import tempfile
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from gateway.bench.large import many_lines_invoice
from gateway.validation import ValidationEngine
from gateway.xmlcore import held as held_module
from gateway.xmlcore.held import HeldDocument


@pytest.fixture(scope="module")
def large() -> bytes:
    """An invoice of 1,400 lines (≈ 1.15 MB: the streamed path) with a finding on its first line."""
    xml = many_lines_invoice(1400, tag="held").ubl.replace(b'unitCode="', b'unitCode="XX', 1)
    assert len(xml) > 1024 * 1024
    return xml


@pytest.fixture
def temp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Python's temporary directory for this test: held documents spill their bytes there."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


def _open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_spilled_bytes_leave_the_object_and_come_back_intact(temp_dir: Path) -> None:
    data = os.urandom(300_000)
    held = HeldDocument(data)
    descriptors = _open_descriptors()
    with held.spilled() as spilled:
        assert spilled
        assert not held.in_memory
        assert list(temp_dir.iterdir()) == []  # unlinked at once: no name a crash could leave behind
        assert len(held) == len(data)
    assert held.in_memory
    assert held.data() == data
    assert _open_descriptors() == descriptors
    with pytest.raises(RuntimeError), held.spilled():  # read back whatever the block raised
        raise RuntimeError
    assert held.data() == data
    assert _open_descriptors() == descriptors


def test_data_asked_for_while_spilled_is_read_back(temp_dir: Path) -> None:
    held = HeldDocument(b"<a/>" * 1000)
    with held.spilled() as spilled:
        assert spilled
        assert held.data() == b"<a/>" * 1000
        with held.spilled() as again:  # already spilled: nothing more
            assert not again
    assert held.data() == b"<a/>" * 1000


def test_slices_read_the_spilled_file_without_bringing_the_bytes_back(temp_dir: Path) -> None:
    """What the SQLite store writes a large outbound body from (BENCHMARKS.md, *Memory, eighteenth pass*)."""
    data = os.urandom(700_001)
    held = HeldDocument(data)
    assert b"".join(held.slices(100_000)) == data  # held: views of the bytes
    with held.spilled() as spilled:
        assert spilled
        pieces = [bytes(piece) for piece in held.slices(100_000)]
        assert not held.in_memory  # read in slices, not back whole
    assert [len(piece) for piece in pieces] == [100_000] * 7 + [1]
    assert b"".join(pieces) == data


def test_a_document_under_from_bytes_is_not_spilled(temp_dir: Path) -> None:
    held = HeldDocument(b"<a/>" * 1000)
    with held.spilled(from_bytes=4001) as spilled:
        assert not spilled
        assert held.in_memory
    with held.spilled(from_bytes=4000) as spilled:
        assert spilled


def test_without_read_back_the_bytes_come_back_only_when_the_block_raises(temp_dir: Path) -> None:
    """``read_back=False``: the receiver's last use of a document (its verdict and draft recorded)."""
    data = os.urandom(300_000)
    held = HeldDocument(data)
    descriptors = _open_descriptors()
    with pytest.raises(RuntimeError), held.spilled(read_back=False):  # a retry needs them: read back
        raise RuntimeError
    assert held.in_memory
    assert held.data() == data
    with held.spilled(read_back=False) as spilled:
        assert spilled
    assert not held.in_memory
    assert _open_descriptors() == descriptors
    with pytest.raises(held_module.HeldDocumentLost, match="released by its owner"):
        held.data()
    with pytest.raises(held_module.HeldDocumentLost):
        list(held.slices())


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
    validation_engine: ValidationEngine, monkeypatch: pytest.MonkeyPatch, temp_dir: Path
) -> None:
    """Below the streamed path's threshold (the e2e examples): the tree path as before, no file."""
    small = many_lines_invoice(20, tag="held").ubl
    expected = validation_engine.validate(small)
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


def _failing_once(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """``_read_all`` fails its first call (EIO, or MemoryError for a 4 MiB allocation), as a read-back may."""
    real = held_module._read_all
    calls: list[int] = []

    def read_all(fd: int, size: int) -> bytes:
        calls.append(fd)
        if len(calls) == 1:
            raise OSError(errno.EIO, "injected read-back failure")
        return real(fd, size)

    monkeypatch.setattr(held_module, "_read_all", read_all)
    return calls


def test_a_failed_read_back_never_reads_another_file_behind_the_same_descriptor_number(
    temp_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The spill's descriptor is closed whatever happened; its number is then free for the next file any
    thread opens. A document whose read-back failed is lost (its owner reads it from the store): asking
    for its bytes again raises, and never returns that other file's bytes."""
    data = b"<a/>" * 1000
    held = HeldDocument(data)
    descriptors = _open_descriptors()
    _failing_once(monkeypatch)
    with pytest.raises(OSError, match="injected"), held.spilled():
        pass
    assert _open_descriptors() == descriptors
    other = os.open(temp_dir / "other", os.O_RDWR | os.O_CREAT, 0o600)  # takes the freed number
    try:
        os.write(other, b"<b/>" * 1000)
        with pytest.raises(OSError, match="lost"):
            held.data()
        with held.spilled() as spilled:  # nothing to spill, nothing written to the other file
            assert not spilled
        assert os.pread(other, 8000, 0) == b"<b/>" * 1000
    finally:
        os.close(other)
    assert _open_descriptors() == descriptors


@pytest.mark.parametrize("read_back", [True, False])
def test_the_blocks_error_goes_on_when_the_read_back_after_it_fails(
    temp_dir: Path, monkeypatch: pytest.MonkeyPatch, read_back: bool
) -> None:
    """The block raised (the store's StoreError, which its caller retries or answers 503) and the read-back
    fails too: the block's error propagates, not the read-back's (which made the sender's answer a 500 and
    the receiver's retry a logged bug); the document is lost all the same (BENCHMARKS.md, *Held documents,
    second review pass*)."""
    held = HeldDocument(os.urandom(200_000))
    descriptors = _open_descriptors()
    _failing_once(monkeypatch)
    with pytest.raises(RuntimeError, match="in the block"), held.spilled(read_back=read_back):
        raise RuntimeError("in the block")
    assert _open_descriptors() == descriptors
    with pytest.raises(held_module.HeldDocumentLost, match="read-back failed"):
        held.data()


@pytest.mark.parametrize("failure", ["mkstemp", "unlink", "write", "block", "read-back", "block+read-back"])
def test_no_descriptor_is_left_whatever_fails(
    temp_dir: Path, monkeypatch: pytest.MonkeyPatch, failure: str
) -> None:
    data = os.urandom(200_000)
    held = HeldDocument(data)
    descriptors = _open_descriptors()
    if failure == "mkstemp":
        monkeypatch.setattr(tempfile, "mkstemp", _raising(OSError(errno.EROFS, "read-only")))
    elif failure == "unlink":
        unlink = os.unlink
        failed: list[str] = []

        def unlink_once(name: str) -> None:  # the first try fails, the cleanup's succeeds
            if not failed:
                failed.append(name)
                raise OSError(errno.EPERM, "no")
            unlink(name)

        monkeypatch.setattr(held_module.os, "unlink", unlink_once)
    elif failure == "write":
        monkeypatch.setattr(held_module.os, "fdopen", _raising(OSError(errno.ENOSPC, "disk full")))
    if "read-back" in failure:
        _failing_once(monkeypatch)
    raised = "block" in failure or "read-back" in failure
    with contextlib.suppress(OSError, RuntimeError), held.spilled() as spilled:
        assert spilled is (failure not in ("mkstemp", "unlink", "write"))
        if "block" in failure:
            raise RuntimeError("in the block")
    assert _open_descriptors() == descriptors
    assert list(temp_dir.iterdir()) == []
    if "read-back" in failure:
        with pytest.raises(OSError, match="lost"):
            held.data()
    else:
        assert held.data() == data, raised


def _raising(exc: BaseException) -> Any:
    def raise_it(*args: Any, **kwargs: Any) -> Any:
        raise exc

    return raise_it


def test_a_read_back_failure_in_validation_leaves_no_descriptor_and_raises(
    validation_engine: ValidationEngine, large: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Out of ``validate`` (the sender answers 500, the receiver keeps the document pending); the Saxon
    file and the spill both closed. A transform that raises reads the bytes back intact."""
    validation_engine.validate(large)  # compiled and warm
    descriptors = _open_descriptors()
    _failing_once(monkeypatch)
    held = HeldDocument(bytes(large))
    with pytest.raises(OSError, match="injected"):
        validation_engine.validate(held)
    assert _open_descriptors() == descriptors
    with pytest.raises(OSError, match="lost"):
        held.data()
    shared: Any = validation_engine.compiled().shared
    monkeypatch.setattr(shared, "outputs", _raising(MemoryError("transform")))
    held = HeldDocument(bytes(large))
    with pytest.raises(MemoryError):
        validation_engine.validate(held)
    assert _open_descriptors() == descriptors
    assert held.in_memory
    assert held.data() == large


def test_the_services_holding_documents_do_not_load_saxon() -> None:
    """The held document is stdlib only: importing the services (the CLI's archive export, devnet) does not
    load the validation package and saxonche with it, as it did not before held documents."""
    modules = ["gateway.services.outbound", "gateway.services.receive", "gateway.cli.archive_export"]
    code = f"import sys, {', '.join(modules)}; print('saxonche' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=99)
    assert out.stdout.strip() == "False"
