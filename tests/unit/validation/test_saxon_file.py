"""A large document found valid by the pull parse reaches Saxon as a temporary file, not as text, and Saxon's
heap of it is collected once the transform is done (BENCHMARKS.md, *Memory, fourteenth pass*)."""

from __future__ import annotations

import resource
import signal
import tempfile
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from gateway.bench.large import many_lines_invoice
from gateway.validation import ValidationEngine
from gateway.validation.blank_text import without_blank_text
from gateway.validation.streamed import streamed_document


@pytest.fixture(scope="module")
def large() -> bytes:
    """An invoice of 1,400 lines (≈ 1.15 MB: the streamed path) with a finding on its first line."""
    xml = many_lines_invoice(1400, tag="file").ubl.replace(b'unitCode="', b'unitCode="XX', 1)
    assert len(xml) > 1024 * 1024
    return xml


def _spy(engine: ValidationEngine, name: str, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Record the arguments of the engine's Saxon runtime method ``name`` (the real method still runs)."""
    runtime: Any = engine._runtime
    calls: list[Any] = []
    real = getattr(runtime, name)

    def recording(*args: Any) -> Any:
        calls.append(Path(args[0]).read_bytes() if name == "parse_file" else args)
        return real(*args)

    monkeypatch.setattr(runtime, name, recording)
    return calls


def test_saxon_reads_a_temporary_file_of_the_cleaned_bytes_and_reports_the_same(
    validation_engine: ValidationEngine, large: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    validation_engine.compiled()
    assert streamed_document(large, validation_engine.compiled().xsd, max_bytes=10**8) is not None
    monkeypatch.setattr(validation_engine, "stream_above_bytes", 0)
    tree = validation_engine.validate(large)  # the tree path: Saxon parses the document's text
    monkeypatch.setattr(validation_engine, "stream_above_bytes", 1)
    texts = _spy(validation_engine, "parse", monkeypatch)
    files = _spy(validation_engine, "parse_file", monkeypatch)
    before = set(Path(tempfile.gettempdir()).glob("gateway-saxon-*"))
    streamed = validation_engine.validate(large)
    assert streamed == tree
    assert any(f.rule == "BR-CL-23" for f in tree.findings)
    assert texts == []
    assert files == [without_blank_text(large)]
    assert set(Path(tempfile.gettempdir()).glob("gateway-saxon-*")) == before  # removed
    monkeypatch.setattr(validation_engine, "strip_blank_text", False)
    assert validation_engine.validate(large) == tree
    assert files[1] == large


def test_without_a_temporary_file_saxon_reads_the_text(
    validation_engine: ValidationEngine, large: bytes, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    validation_engine.compiled()
    monkeypatch.setattr(validation_engine, "stream_above_bytes", 0)
    tree = validation_engine.validate(large)
    monkeypatch.setattr(validation_engine, "stream_above_bytes", 1)
    texts = _spy(validation_engine, "parse", monkeypatch)
    files = _spy(validation_engine, "parse_file", monkeypatch)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "missing"))  # mkstemp fails
    assert validation_engine.validate(large) == tree
    assert files == []
    assert len(texts) == 1
    blank = tmp_path / "with blank"
    blank.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(blank))  # a path Saxon would read as a URI
    assert validation_engine.validate(large) == tree
    assert list(blank.iterdir()) == []
    if Path("/proc/self/fd").is_dir():  # read through the descriptor: the directory's name does not matter
        assert files == [without_blank_text(large)]
    else:
        assert len(texts) == 2


def test_no_text_of_the_document_is_held_while_saxon_parses_it(
    validation_engine: ValidationEngine, large: bytes
) -> None:
    """The text path held the cleaned bytes, their decoded ``str`` and saxonche's UTF-8 copy of it
    (1.65 times the document at once, in Python objects); the file is written a chunk at a time (0.47)."""
    validation_engine.validate(large)  # compiled and warm
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        start = tracemalloc.get_traced_memory()[0]
        validation_engine.validate(large)
        peak = tracemalloc.get_traced_memory()[1] - start
    finally:
        tracemalloc.stop()
    assert peak < 0.8 * len(large), peak / len(large)  # the text path: 1.65


def test_saxon_heap_is_collected_after_a_large_document_only(
    validation_engine: ValidationEngine, large: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before the parse (as before) and once the transform is done, so that what the caller allocates next
    (the store's copies, an expense draft) does not come on top of Saxon's heap of the document."""
    validation_engine.compiled()
    order: list[str] = []
    runtime: Any = validation_engine._runtime
    collect, parse_file = runtime.collect_garbage, runtime.parse_file

    def collecting() -> None:
        order.append("collect")
        collect()

    def parsing(path: str) -> Any:
        order.append("parse")
        return parse_file(path)

    monkeypatch.setattr(runtime, "collect_garbage", collecting)
    monkeypatch.setattr(runtime, "parse_file", parsing)
    validation_engine.validate(large)
    assert order == ["collect", "parse", "collect"]
    order.clear()
    validation_engine.validate(many_lines_invoice(20, tag="file").ubl)  # small: the tree path
    assert order == []


def test_a_file_saxon_cannot_read_falls_back_to_the_text_not_to_a_finding(
    validation_engine: ValidationEngine, large: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Saxon unable to open the temporary file (no file descriptor left; without ``/proc``, the file removed
    by a cleaner of the temporary directory): a fault of this process, not of the document, which then
    reaches Saxon as its text and gets the verdict of the tree path, not a fatal "could not read"."""
    validation_engine.compiled()
    monkeypatch.setattr(validation_engine, "stream_above_bytes", 0)
    tree = validation_engine.validate(large)
    monkeypatch.setattr(validation_engine, "stream_above_bytes", 1)
    runtime: Any = validation_engine._runtime
    parse_file = runtime.parse_file
    opened: list[str] = []

    def vanished(path: str) -> Any:
        opened.append(path)
        return parse_file(f"{path}-gone")  # the real Saxon, given a path that is not there

    monkeypatch.setattr(runtime, "parse_file", vanished)
    texts = _spy(validation_engine, "parse", monkeypatch)
    assert validation_engine.validate(large) == tree
    assert len(opened) == 1
    assert len(texts) == 1


def test_no_file_of_the_document_is_named_in_the_temporary_directory_while_saxon_reads_it(
    validation_engine: ValidationEngine, large: bytes, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Saxon reads the file through this process's descriptor (Linux ``/proc/self/fd``) and its name is gone
    before: a process killed during the parse (the out-of-memory killer, at the validation's peak) leaves
    no copy of the invoice behind, and no other process can put another file behind the name."""
    validation_engine.compiled()
    monkeypatch.setattr(validation_engine, "stream_above_bytes", 1)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    runtime: Any = validation_engine._runtime
    parse_file = runtime.parse_file
    seen: list[tuple[str, list[Path]]] = []

    def listing(path: str) -> Any:
        seen.append((path, list(tmp_path.iterdir())))
        return parse_file(path)

    monkeypatch.setattr(runtime, "parse_file", listing)
    validation_engine.validate(large)
    assert len(seen) == 1
    assert seen[0][0].startswith("/proc/self/fd/")
    assert seen[0][1] == []


def test_a_write_that_fails_midway_gives_no_file_to_read(
    validation_engine: ValidationEngine, large: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk while the file is written (here: the process's file size limit, ``EFBIG``): no path, so
    the caller passes the text, never a truncated file; nothing is left in the temporary directory."""
    document = streamed_document(large, validation_engine.compiled().xsd, max_bytes=10**8)
    assert document is not None
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    limits = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (200 * 1024, limits[1]))
    try:
        for strip_blank in (True, False):
            with document.saxon_file(strip_blank=strip_blank) as path:
                assert path is None
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, limits)
        signal.signal(signal.SIGXFSZ, handler)
    assert list(tmp_path.iterdir()) == []
