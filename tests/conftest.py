"""Test-wide guards: no traffic off this machine, a clean environment, shared paths."""

from __future__ import annotations

import ipaddress
import logging
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.observability import HANDLER_MARK

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("GATEWAY_SHARED_DIR", ROOT.parent / "shared"))
ARTEFACTS = SHARED / "artefacts"

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _is_local(address: object) -> bool:
    if isinstance(address, str | bytes):  # AF_UNIX path
        return True
    if isinstance(address, tuple) and address:
        host = address[0]
        if host in ("localhost",):
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False
    return False


def _guarded_connect(self: socket.socket, address: object) -> None:
    if not _is_local(address):
        raise RuntimeError(f"test tried to reach {address!r}: only loopback is allowed")
    _real_connect(self, address)  # type: ignore[arg-type]


def _guarded_connect_ex(self: socket.socket, address: object) -> int:
    if not _is_local(address):
        raise RuntimeError(f"test tried to reach {address!r}: only loopback is allowed")
    return _real_connect_ex(self, address)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def _no_network(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Block every connection that leaves the machine, unless the test is marked ``network``."""
    if request.node.get_closest_marker("network") is None:
        monkeypatch.setattr(socket.socket, "connect", _guarded_connect)
        monkeypatch.setattr(socket.socket, "connect_ex", _guarded_connect_ex)
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(autouse=True)
def _root_logging_restored() -> Iterator[None]:
    """A test that configures the gateway's logging (the CLI's ``configure_logging``) leaves neither its
    handler nor the root level behind. Left, that handler (on the stream pytest captured for that test, or
    the terminal with ``-s``) took every later INFO line of the background threads - aiosmtpd logs
    "connection lost" for each SMTP session - as output or as a "Logging error" traceback."""
    root = logging.getLogger()
    level = root.level
    yield
    for handler in [h for h in root.handlers if getattr(h, HANDLER_MARK, False)]:
        root.removeHandler(handler)
        handler.close()
    root.setLevel(level)


@pytest.fixture(scope="session")
def artefacts_dir() -> Path:
    """The mirror of official artefacts (../shared/artefacts), required by validation tests."""
    if not ARTEFACTS.is_dir():
        pytest.fail(f"artefact mirror {ARTEFACTS} not found (set GATEWAY_SHARED_DIR)")
    return ARTEFACTS


import typing  # noqa: E402 - appended section (this block is owned by the validation helper)

if typing.TYPE_CHECKING:
    from gateway.validation import ValidationEngine


@pytest.fixture(scope="session")
def validation_engine(artefacts_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> ValidationEngine:
    """A ValidationEngine over the artefact mirror, shared by the session (stylesheets compile once)."""
    from gateway.validation import ArtefactStore, ValidationEngine

    store = ArtefactStore.from_paths(mirror=artefacts_dir, cache_dir=tmp_path_factory.mktemp("artefacts"))
    return ValidationEngine(store)
