"""The temporary files that held documents spill their bytes to, recorded for the tests that cut one short
(the stand-in for an I/O error while the bytes are read back)."""

from __future__ import annotations

import pytest

from gateway.xmlcore import held as held_module


def record_spills(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """From now on, the descriptor of every temporary file a held document spills to, in order."""
    real = held_module._unlinked_file
    made: list[int] = []

    def unlinked_file() -> int | None:
        fd = real()
        if fd is not None:
            made.append(fd)
        return fd

    monkeypatch.setattr(held_module, "_unlinked_file", unlinked_file)
    return made
