"""A document's bytes with one owner, which validation may move out of the process while Saxon works.

A large document's validation peaks while Saxon transforms it (its tree and the young generation the
transform fills). The caller still needs the bytes afterwards (the sender stores them, the receiver drafts
the expense and answers with an MLS), so they used to stay in the process through that peak: 4.1 MiB of
the 5,000-line invoice (BENCHMARKS.md, *Memory, fifteenth pass*). A caller that hands the bytes over in a
``HeldDocument`` and keeps no other reference to them lets ``ValidationEngine.validate`` write them to an
unlinked temporary file for that time (``spilled``) and read them back after it.

The file's name is removed as soon as it is made: a process killed meanwhile leaves no copy of the document
on disk, only a descriptor the kernel closes with the process.

It lives here, beside the XML input helpers and with no dependency beyond the standard library, because the
services and the API hold documents in it: under ``gateway.validation`` it loaded that package (saxonche,
≈ 10 MiB) into every process importing the services (``archive-export``, ``devnet``: BENCHMARKS.md, *Held
documents, review pass*).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator

#: Bytes read from the temporary file per slice by ``HeldDocument.slices``.
READ_SLICE = 256 * 1024


class HeldDocument:
    """The bytes of one document, held here only (see the module).

    ``data()`` returns them (read back from the temporary file while they are spilled, and held again);
    ``spilled()`` moves them to an unlinked temporary file for the duration of a block. Nothing is gained
    unless the caller keeps no other reference to the bytes while the block runs.
    """

    __slots__ = ("_data", "_fd", "_released", "_size")

    def __init__(self, data: bytes) -> None:
        self._data: bytes | None = data
        self._fd: int | None = None
        self._size = len(data)
        self._released = False  # dropped by its owner (``spilled(read_back=False)``)

    def __len__(self) -> int:
        return self._size

    def __repr__(self) -> str:
        where = "memory" if self._data is not None else "a temporary file"
        return f"HeldDocument({self._size} bytes in {where})"

    @property
    def in_memory(self) -> bool:
        """Whether the bytes are held in the process now (False inside ``spilled`` until ``data()``)."""
        return self._data is not None

    def data(self) -> bytes:
        """The bytes (read back from the temporary file if they were spilled; held again from then on).

        Raises:
            HeldDocumentLost: the read-back as ``spilled`` ended failed (the owner reads the document from
                where it keeps it: the store).
        """
        if self._data is None:
            if self._fd is None:
                raise HeldDocumentLost(self._lost())
            self._data = _read_all(self._fd, self._size)
        return self._data

    def _lost(self) -> str:
        if self._released:
            return f"the {self._size}-byte held document was released by its owner"
        return f"the {self._size}-byte held document was lost: its read-back failed"

    def slices(self, size: int = READ_SLICE) -> Iterator[bytes | memoryview]:
        """The bytes in order, ``size`` at a time, without holding them whole: views of the held bytes, or
        while they are spilled, reads of the temporary file (which stay spilled).

        Raises:
            HeldDocumentLost: as ``data()``; OSError: the temporary file could not be read whole.
        """
        if self._data is not None:
            view = memoryview(self._data)
            for start in range(0, self._size, size):
                yield view[start : start + size]
            return
        if self._fd is None:
            raise HeldDocumentLost(self._lost())
        got = 0
        while got < self._size:
            part = os.pread(self._fd, min(size, self._size - got), got)
            if not part:
                raise OSError(f"temporary file of a held document ended after {got} of {self._size} bytes")
            got += len(part)
            yield part

    @contextlib.contextmanager
    def spilled(self, *, from_bytes: int = 0, read_back: bool = True) -> Iterator[bool]:
        """While the block runs, the bytes are in an unlinked temporary file instead of this object (True);
        False: they stay held (a document under ``from_bytes``, no temporary directory, a failed write, or
        already spilled). On exit they are read back and the file's descriptor closed, whatever the block
        raised. A failed read-back raises, unless the block raised: its own error then propagates (the
        store's ``StoreError``, an answer's conflict), not the read-back's, and the document is lost all
        the same (``data()`` raises ``HeldDocumentLost``).

        ``read_back=False``: the owner's last use of the bytes. They are read back only when the block raises
        (the owner may run it again); after a block that ended normally they are gone (``data()`` raises
        ``HeldDocumentLost``), so that they never come back beside what the block left."""
        if self._fd is not None or self._data is None or self._size < from_bytes:
            yield False
            return
        fd = _unlinked_file()
        if fd is None:
            yield False
            return
        try:
            written = _write_all(fd, self._data)
            if not written:
                yield False  # outside the ``except``: the block's own error is not chained to ENOSPC
                return
            self._fd = fd
            self._data = None
            ended = False
            try:
                yield True
                ended = True
            finally:
                # Read back before the descriptor goes; an error here propagates, and the document is lost
                # (``data()`` raises): the descriptor's number is closed below and free for any file another
                # thread opens next, so it must never be read again.
                try:
                    if read_back or not ended:
                        self.data()
                    else:
                        self._released = True
                except Exception:
                    if ended:
                        raise
                    # The block's error goes on (raising here would replace it: a retryable StoreError
                    # answered as a bug); the document is lost, as ``data()`` says to whoever asks next.
                finally:
                    self._fd = None
        finally:
            os.close(fd)


class HeldDocumentLost(OSError):
    """A held document's bytes are gone from the process: its read-back failed, or its owner released them
    (see ``HeldDocument.data`` and ``spilled``)."""


def _write_all(fd: int, data: bytes) -> bool:
    """Write ``data`` into ``fd`` (left open); False if writing failed (disk full, quota, I/O error)."""
    try:
        with os.fdopen(fd, "wb", closefd=False) as out:
            out.write(data)
    except OSError:
        return False
    return True


def _unlinked_file() -> int | None:
    """A descriptor of a new temporary file whose name is already removed; None if none can be made."""
    try:
        fd, name = tempfile.mkstemp(prefix="gateway-held-", suffix=".xml")
    except OSError:
        return None
    try:
        os.unlink(name)
    except OSError:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(name)
        return None
    return fd


def _read_all(fd: int, size: int) -> bytes:
    """The file's first ``size`` bytes, in one allocation when the system reads them at once."""
    data = os.pread(fd, size, 0)
    if len(data) == size:
        return data
    parts = [data]
    got = len(data)
    while got < size:
        part = os.pread(fd, size - got, got)
        if not part:
            raise OSError(f"temporary file of a held document ended after {got} of {size} bytes")
        parts.append(part)
        got += len(part)
    return b"".join(parts)
