"""The interop kit driver (kit README §5): runs the peers' tools and loads the kit PKI."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

from gateway.crypto import KeyMaterial, TrustStore, load_key_material

ROOT = Path(__file__).resolve().parents[2]
KIT = Path(os.environ.get("INTEROP_KIT", ROOT.parent / "shared" / "interop"))
HOME = Path(os.environ.get("INTEROP_HOME", Path.home() / ".cache" / "peppol-interop"))


class Interop:
    """Runs the kit's tools and loads the kit's PKI (ap1 = sender, ap2 = receiver)."""

    pki = HOME / "pki"

    def run(
        self, tool: str, *args: object, expect: int | None = 0, timeout: int = 180
    ) -> subprocess.CompletedProcess[str]:
        r = subprocess.run(
            [str(KIT / tool), *map(str, args)],
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        if expect is not None:
            assert r.returncode == expect, f"{tool} rc={r.returncode}\n{r.stdout}\n{r.stderr}"
        return r

    def json(self, tool: str, *args: object, expect: int | None = 0, **kw: Any) -> Any:
        return json.loads(self.run(tool, *args, expect=expect, **kw).stdout)

    def key(self, name: str) -> KeyMaterial:
        return load_key_material(
            (self.pki / f"{name}.key.pem").read_bytes(),
            certificate=(self.pki / f"{name}.cert.pem").read_bytes(),
        )

    @property
    def trust(self) -> TrustStore:
        return TrustStore.from_pem((self.pki / "root.pem").read_bytes(), (self.pki / "apca.pem").read_bytes())

    @property
    def at(self) -> datetime:
        """A fixed time inside ap1/ap2 validity (the kit PKI is made once, relative to setup time)."""
        info = json.loads((self.pki / "info.json").read_text())["certificates"]["ap1.cert.pem"]
        start = datetime.fromisoformat(info["not_before"])
        end = datetime.fromisoformat(info["not_after"])
        return start + (end - start) / 2
