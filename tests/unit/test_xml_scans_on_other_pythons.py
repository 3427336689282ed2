"""The byte scans before any parse (``gateway.xmlcore.name_length``, ``gateway.xmlcore.start_tags``) on the
other CPython 3.11 interpreters of the machine: their regular expressions must find what they must there
too. CPython 3.11.0-3.11.4's ``re`` gets a possessive repeat of a group wrong (python/cpython#100061 and
#106052, fixed in 3.11.5); Debian bookworm's ``/usr/bin/python3`` is 3.11.2, and on it the name bound and the
namespace URI bound passed the documents they exist to refuse (28 of their tests failed there).

The scans' own test files run again under each such interpreter, with this virtualenv's packages (built for
the same ``cp311`` ABI) on its path: the distribution's, pyenv's, the first ``python3`` on the ``PATH``,
whichever this virtualenv is not made with (``make install`` takes the distribution's: README, *Which
Python*). Skipped where the machine has no other CPython 3.11."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: The scans' tests: every refusal of a long name, a long namespace URI and too many attributes, and of an
#: encoding they cannot read.
SCAN_TESTS = (
    "tests/unit/test_xml_name_bound.py",
    "tests/unit/test_xml_namespace_uri_bound.py",
    "tests/unit/test_xml_encoding_check.py",
)
CANDIDATES = (
    "/usr/bin/python3",
    "/usr/bin/python3.11",
    "/usr/local/bin/python3.11",
    *(str(p) for p in sorted(Path.home().glob(".pyenv/versions/3.11*/bin/python3"))),
    *(found for name in ("python3", "python3.11") if (found := shutil.which(name)) is not None),
)


def _interpreter(executable: str) -> tuple[Path, tuple[int, ...]] | None:
    """The CPython that ``executable`` runs (a pyenv shim resolved) and its version; None for another
    implementation or a file that does not run."""
    script = (
        "import os, sys; print(os.path.realpath(sys.executable), sys.implementation.name, *sys.version_info)"
    )
    try:
        done = subprocess.run(
            [executable, "-c", script], capture_output=True, text=True, timeout=30, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    path, implementation, major, minor, micro, *_ = done.stdout.split()
    return (Path(path), (int(major), int(minor), int(micro))) if implementation == "cpython" else None


def _other_pythons() -> list[str]:
    """Other CPython 3.11 executables than this one (one per interpreter)."""
    ours = Path(os.path.realpath(sys.executable))
    found: dict[Path, str] = {}
    for candidate in CANDIDATES:
        interpreter = _interpreter(candidate)
        if interpreter is None:
            continue
        path, version = interpreter
        if path != ours and path not in found and version[:2] == sys.version_info[:2]:
            found[path] = candidate
    return list(found.values())


OTHERS = _other_pythons()


@pytest.mark.skipif(not OTHERS, reason="no other CPython 3.11 on this machine")
@pytest.mark.parametrize("python", OTHERS)
def test_the_scans_refuse_what_they_must_under_another_python_3_11(python: str) -> None:
    site = [sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]
    # Only this virtualenv's packages: the other interpreter's own (-S), and this run's pytest variables
    # (an xdist worker's), would load other plugins (pyenv's pytest-benchmark refuses to run beside xdist).
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PYTHONHOME"))}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *dict.fromkeys(site)])
    done = subprocess.run(
        [python, "-S", "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", *SCAN_TESTS],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = f"{done.stdout[-4000:]}\n{done.stderr[-2000:]}"
    assert done.returncode == 0, f"{python} {_interpreter(python)}:\n{output}"
