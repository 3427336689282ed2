"""The PyPI ``as4`` library as the reference of ``gateway bench as4``: started once in the interop kit's
``venv-as4`` (``../shared/interop``, set up by its ``setup.sh``), then asked for one round at a time so that
its figures and ours are taken alternately, on the same documents and keys, in one run."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from gateway.crypto import DevPKI

SCRIPT = Path(__file__).resolve().parent / "reference" / "as4_library.py"


def interop_python() -> Path:
    """The python of the kit's ``venv-as4`` (``$INTEROP_HOME``, default ``~/.cache/peppol-interop``)."""
    home = Path(os.environ.get("INTEROP_HOME", Path.home() / ".cache" / "peppol-interop"))
    return home / "venv-as4" / "bin" / "python"


@dataclass(frozen=True, slots=True)
class Round:
    """One message built and received by the library."""

    build_ms: float
    receive_ms: float
    body_bytes: int


class As4Library:
    """The running reference process (a context manager: the process is stopped on exit)."""

    def __init__(
        self,
        workdir: Path,
        pki: DevPKI,
        documents: Sequence[bytes],
        *,
        original_sender: str,
        final_recipient: str,
        document_type: str,
        process: str,
    ) -> None:
        """Write the PKI and the documents into ``workdir`` and start the library's script.

        Raises:
            FileNotFoundError: the kit's ``venv-as4`` is not set up.
        """
        python = interop_python()
        if not python.exists():
            raise FileNotFoundError(f"{python} (run ../shared/interop/setup.sh)")
        pki.write(workdir / "pki")
        paths = []
        for i, document in enumerate(documents):
            path = workdir / f"document-{i}.xml"
            path.write_bytes(document)
            paths.append(str(path))
        sender, receiver = sorted(pki.aps)[:2]
        setup = {
            "sender_key": str(workdir / "pki" / f"{sender.lower()}.key.pem"),
            "sender_cert": str(workdir / "pki" / f"{sender.lower()}.cert.pem"),
            "receiver_key": str(workdir / "pki" / f"{receiver.lower()}.key.pem"),
            "receiver_cert": str(workdir / "pki" / f"{receiver.lower()}.cert.pem"),
            "root": str(workdir / "pki" / "root.pem"),
            "intermediates": [str(workdir / "pki" / "apca.pem")],
            "from_party": sender,
            "to_party": receiver,
            "original_sender": original_sender,
            "final_recipient": final_recipient,
            "document_type": document_type,
            "process": process,
            "documents": paths,
        }
        (workdir / "setup.json").write_text(json.dumps(setup))
        self._process = subprocess.Popen(
            [str(python), str(SCRIPT), str(workdir / "setup.json")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={k: v for k, v in os.environ.items() if not k.startswith("PYTHON")},
        )

    def round(self, document: int) -> Round:
        """Build and receive document number ``document`` once.

        Raises:
            RuntimeError: the library's process failed (its traceback is on stderr).
        """
        assert self._process.stdin is not None
        assert self._process.stdout is not None
        self._process.stdin.write(f"{document}\n")
        self._process.stdin.flush()
        line = self._process.stdout.readline()
        if not line:
            raise RuntimeError(f"the as4 library process exited (code {self._process.wait()})")
        figures = json.loads(line)
        return Round(float(figures["build_ms"]), float(figures["receive_ms"]), int(figures["body_bytes"]))

    def __enter__(self) -> As4Library:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._process.stdin is not None
        self._process.stdin.close()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
