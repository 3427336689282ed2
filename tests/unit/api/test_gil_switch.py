"""The GIL switch interval of ``gateway serve`` and ``gateway worker`` (``gateway/api/gil_switch.py``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator

import pytest

from gateway.api.gil_switch import GIL_SWITCH_INTERVAL_SECONDS, lengthen_gil_switch_interval
from gateway.config import Settings


class _Built(Exception):
    """Raised by the stand-in ``build_services``: start-up stops there."""


@pytest.fixture
def default_interval() -> Iterator[float]:
    before = sys.getswitchinterval()
    sys.setswitchinterval(0.005)  # CPython's default
    try:
        yield 0.005
    finally:
        sys.setswitchinterval(before)


def test_the_interval_is_lengthened_never_shortened(default_interval: float) -> None:
    assert lengthen_gil_switch_interval() == pytest.approx(GIL_SWITCH_INTERVAL_SECONDS)
    assert sys.getswitchinterval() == pytest.approx(GIL_SWITCH_INTERVAL_SECONDS)
    sys.setswitchinterval(0.05)  # chosen by whoever embeds the process: kept
    assert lengthen_gil_switch_interval() == pytest.approx(0.05)


def _stop_at_services(monkeypatch: pytest.MonkeyPatch, module: object, default: float) -> list[float]:
    """Replace ``module.build_services`` by one that notes the switch interval in force and stops."""
    seen: list[float] = []

    def build_services(_settings: Settings, process: str = "command") -> None:
        seen.append(sys.getswitchinterval())
        sys.setswitchinterval(default)
        raise _Built

    monkeypatch.setattr(module, "build_services", build_services)
    return seen


def _settings() -> Settings:
    key = {"name": "a", "role": "admin", "key": "k0123456789abcdef0123456789"}
    return Settings.model_validate({"api": {"keys": [key]}})


def test_serve_sets_it_before_its_services_start(
    monkeypatch: pytest.MonkeyPatch, default_interval: float
) -> None:
    import gateway.api.app as app_module
    import gateway.cli.serve as serve_module

    seen = _stop_at_services(monkeypatch, app_module, default_interval)
    monkeypatch.setattr(serve_module, "limit_malloc_arenas", lambda _arenas: False)
    monkeypatch.setattr(serve_module, "fix_mmap_threshold", lambda _bytes: False)
    with pytest.raises(_Built):
        serve_module.run_serve(argparse.Namespace(host="127.0.0.1", port=0), _settings())
    assert seen == [pytest.approx(GIL_SWITCH_INTERVAL_SECONDS)]


def test_the_worker_sets_it_before_its_services_start(
    monkeypatch: pytest.MonkeyPatch, default_interval: float
) -> None:
    import gateway.cli.worker as worker_module

    seen = _stop_at_services(monkeypatch, worker_module, default_interval)
    monkeypatch.setattr(worker_module, "fix_mmap_threshold", lambda _bytes: False)
    with pytest.raises(_Built):
        worker_module.run_worker(argparse.Namespace(max_jobs=None, once=True), _settings())
    assert seen == [pytest.approx(GIL_SWITCH_INTERVAL_SECONDS)]
