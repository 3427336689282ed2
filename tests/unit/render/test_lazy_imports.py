"""The API and the worker load Jinja2, Babel and segno only when something is rendered (BENCHMARKS.md,
*Memory, seventh pass*); ``gateway.render``'s names stay importable as before."""

from __future__ import annotations

import subprocess
import sys

import pytest

import gateway.render

_PROBE = """
import sys
import gateway.api.app, gateway.bootstrap.adapters, gateway.web.i18n
print(sorted(m for m in ("jinja2", "babel", "segno", "gateway.render.html") if m in sys.modules))
from gateway.render import RenderOptions, render_html
print(sorted(m for m in ("jinja2", "babel", "segno", "gateway.render.html") if m in sys.modules))
"""


def test_the_api_modules_load_no_template_engine_until_a_render() -> None:
    run = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True)
    before, after = run.stdout.splitlines()
    assert before == "[]"
    assert after == "['babel', 'gateway.render.html', 'jinja2', 'segno']"


def test_the_lazy_names_are_the_html_modules_own() -> None:
    from gateway.render import html

    for name in ("RenderOptions", "ReportSummary", "render_html", "render_fragment", "stylesheet"):
        assert getattr(gateway.render, name) is getattr(html, name)
    with pytest.raises(ImportError):
        from gateway.render import no_such_name  # type: ignore[attr-defined] # noqa: F401


def test_start_up_refuses_a_missing_page_package(monkeypatch: pytest.MonkeyPatch) -> None:
    """Lazy imports must not turn a broken install into a ready ``serve`` whose every page answers 500."""
    import importlib.util

    from gateway.errors import ConfigurationError

    found = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "babel" else found(name, *a)
    )
    with pytest.raises(ConfigurationError, match="babel"):
        gateway.render.require_page_packages()
    monkeypatch.undo()
    gateway.render.require_page_packages()  # all installed here
