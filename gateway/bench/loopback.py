"""A gateway on loopback for the demo and the end-to-end benchmark: a development PKI and a participant
directory whose participants are served by the gateway's own ``/as4`` endpoint, and the ``gateway serve`` and
``gateway worker`` subprocesses started, awaited and stopped around a block."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx

from gateway.crypto import DEV_PKCS12_PASSWORD, generate_dev_pki
from gateway.model import BIS_BILLING_PROCESS, BIS_CREDIT_NOTE, BIS_INVOICE

SEAT_ID = "POP000001"
"""The development seat of our own access point (sender and receiver on loopback)."""

STOP_TIMEOUT = 15.0
"""Seconds a process gets to exit after SIGTERM before it is killed."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def prepare_loopback(
    workdir: Path, *, served: Sequence[str], as4_url: str, database_url: str | None = None
) -> dict[str, str]:
    """Recreate ``workdir`` with a development PKI and a directory routing ``served`` to ``as4_url``.

    Every served participant is listed for invoices and credit notes (BIS Billing 3.0) at ``as4_url``
    with our own AP certificate, so what the worker sends comes back to the same gateway.

    Args:
        workdir: removed if present, then created (``pki/``, ``directory.json``).
        served: Peppol participant ids (``scheme:value``) the gateway receives for.
        as4_url: the gateway's ``/as4`` endpoint.
        database_url: the store; default a SQLite file ``gateway.db`` in ``workdir``.

    Returns:
        The ``GATEWAY_*`` environment variables of a gateway using these files.
    """
    if workdir.exists():
        shutil.rmtree(workdir)
    pki_dir = workdir / "pki"
    pki_dir.mkdir(parents=True)
    pki = generate_dev_pki(now=datetime.now(UTC), seat_ids=(SEAT_ID,))
    pki.write(pki_dir)  # private keys: created 0600
    entry = {
        "document_types": [BIS_INVOICE.uri, BIS_CREDIT_NOTE.uri],
        "process": BIS_BILLING_PROCESS.uri,
        "url": as4_url,
        "certificate_file": f"pki/{SEAT_ID.lower()}.cert.pem",
    }
    (workdir / "directory.json").write_text(json.dumps({p: [entry] for p in served}, indent=2))
    return {
        "GATEWAY_DATABASE__URL": database_url or f"sqlite:///{workdir / 'gateway.db'}",
        "GATEWAY_KEYSTORE__PATH": str(pki_dir / f"{SEAT_ID.lower()}.p12"),
        "GATEWAY_KEYSTORE__PASSWORD": DEV_PKCS12_PASSWORD,
        "GATEWAY_TRUSTSTORE__PATHS": json.dumps([str(pki_dir / "root.pem"), str(pki_dir / "apca.pem")]),
        "GATEWAY_TRUSTSTORE__STAGE": "development",
        "GATEWAY_DIRECTORY__PATH": str(workdir / "directory.json"),
        "GATEWAY_AS4__SERVED": json.dumps(list(served)),
        "GATEWAY_AS4__PUBLIC_URL": as4_url,
        "GATEWAY_WORKER__POLL_INTERVAL_SECONDS": "0.2",
        "GATEWAY_WORKER__BACKOFF_BASE_SECONDS": "1",
        "GATEWAY_WORKER__BACKOFF_CAP_SECONDS": "5",
        "GATEWAY_LOG_FORMAT": "json",
        "GATEWAY_LOG_LEVEL": "WARNING",
    }


@dataclass(frozen=True)
class GatewayProcesses:
    """The running ``gateway serve`` process and its delivery workers.

    Attributes:
        base_url: the API (and ``/as4``) root, ``http://127.0.0.1:<port>``.
        serve: the API process.
        workers: the ``gateway worker`` processes.
    """

    base_url: str
    serve: subprocess.Popen[bytes]
    workers: tuple[subprocess.Popen[bytes], ...]

    @property
    def all(self) -> tuple[subprocess.Popen[bytes], ...]:
        """Every process, the API first."""
        return (self.serve, *self.workers)


@contextmanager
def run_gateway(
    workdir: Path, env: Mapping[str, str], *, port: int, workers: int = 1
) -> Iterator[GatewayProcesses]:
    """Start ``gateway serve`` on ``port`` and ``workers`` delivery workers; stop them on exit.

    Logs go to ``serve.log`` and ``worker.log`` (``worker-2.log``, ... for more workers) in ``workdir``.
    On exit every process gets SIGTERM (the workers finish their batch), then SIGKILL after
    ``STOP_TIMEOUT`` seconds. Readiness is not awaited: see ``wait_ready``.

    Args:
        workdir: where the log files go.
        env: the complete environment of the processes.
        port: the API port on 127.0.0.1.
        workers: number of ``gateway worker`` processes.
    """
    base = [sys.executable, "-m", "gateway.cli.main"]
    with ExitStack() as stack:
        serve_log = stack.enter_context(open(workdir / "serve.log", "wb"))
        worker_logs = [
            stack.enter_context(open(workdir / ("worker.log" if i == 0 else f"worker-{i + 1}.log"), "wb"))
            for i in range(workers)
        ]
        started: list[subprocess.Popen[bytes]] = []
        try:
            started.append(
                subprocess.Popen(
                    [*base, "serve", "--host", "127.0.0.1", "--port", str(port)],
                    env=dict(env),
                    stdin=subprocess.DEVNULL,
                    stdout=serve_log,
                    stderr=serve_log,
                )
            )
            for log in worker_logs:
                started.append(
                    subprocess.Popen(
                        [*base, "worker"], env=dict(env), stdin=subprocess.DEVNULL, stdout=log, stderr=log
                    )
                )
            yield GatewayProcesses(
                base_url=f"http://127.0.0.1:{port}", serve=started[0], workers=tuple(started[1:])
            )
        finally:
            stop_processes(started)


def stop_processes(processes: Sequence[subprocess.Popen[bytes]]) -> None:
    """SIGTERM every process, wait up to ``STOP_TIMEOUT`` seconds each, then SIGKILL."""
    for proc in processes:
        if proc.poll() is None:
            proc.terminate()
    for proc in processes:
        try:
            proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_ready(client: httpx.Client, processes: Sequence[subprocess.Popen[bytes]], timeout: float) -> None:
    """Poll ``/readyz`` until it answers 200.

    Raises:
        RuntimeError: a process exited during start-up, or the gateway was not ready within ``timeout``.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for proc in processes:
            if proc.poll() is not None:
                raise RuntimeError(f"{proc.args!r} exited during start-up (code {proc.returncode})")
        try:
            if client.get("/readyz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the gateway was not ready within {timeout:.0f} s")


def peak_memory_mib(pid: int) -> float | None:
    """The peak resident set size (``VmHWM`` in ``/proc/<pid>/status``) of a live process, in MiB.

    Returns:
        None where ``/proc`` is unavailable (not Linux) or the process is gone.
    """
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # reported in kB (KiB)
    return None
