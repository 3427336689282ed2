"""Gateways on loopback for the demo and the benchmarks: a development PKI and a participant directory whose
participants are served by the gateway's own ``/as4`` endpoint (``prepare_loopback``) or by a second gateway
(``prepare_access_points``), and the ``gateway serve`` and ``gateway worker`` subprocesses started, awaited
and stopped around a block."""

from __future__ import annotations

import json
import os
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

from gateway.config import Settings
from gateway.config.variables import unknown_variable_message, unknown_variables
from gateway.crypto import DEV_PKCS12_PASSWORD, generate_dev_pki
from gateway.model import BIS_BILLING_PROCESS, BIS_CREDIT_NOTE, BIS_INVOICE
from gateway.model.responses import MLS_DOCUMENT_TYPE, MLS_PROCESS, spid_of_seat

SEAT_ID = "POP000001"
"""The development seat of our own access point (sender, and receiver too when one gateway plays both)."""
RECEIVER_SEAT_ID = "POP000002"
"""The development seat of the receiving access point when it runs as a gateway of its own."""

STOP_TIMEOUT = 15.0
"""Seconds a process gets to exit after SIGTERM before it is killed."""


def listening_socket() -> socket.socket:
    """A TCP socket listening on 127.0.0.1 at a port the OS picks (``listener.getsockname()[1]``), for
    ``run_gateway`` to hand to ``gateway serve``.

    The port stays taken from here on: a port merely found free, closed and bound again later by the server
    could meanwhile be taken by another process (another pytest-xdist worker starting its own gateway)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
    except OSError:
        sock.close()
        raise
    return sock


def parse_override(item: str, bench: str) -> tuple[str, str]:
    """``GATEWAY_NAME=VALUE`` (a benchmark's ``--set``) as ``(name, value)``.

    Raises:
        SystemExit: not of that form, or ``GATEWAY_NAME`` names no setting (``bench`` names the benchmark in
            the message), rather than each gateway process refusing it at start-up.
    """
    name, sep, value = item.partition("=")
    if not sep or not name.startswith("GATEWAY_"):
        raise SystemExit(f"gateway bench {bench}: --set takes GATEWAY_NAME=VALUE, not {item!r}")
    unknown = unknown_variables({name: value}, Settings)
    if name in unknown:
        raise SystemExit(f"gateway bench {bench}: --set {unknown_variable_message(name, unknown[name])}")
    return name, value


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
    pki_dir = _fresh_pki(workdir, (SEAT_ID,))
    _write_directory(workdir / "directory.json", served, as4_url, pki_dir / f"{SEAT_ID.lower()}.cert.pem")
    return _gateway_env(
        workdir,
        pki_dir,
        seat_id=SEAT_ID,
        served=served,
        as4_url=as4_url,
        database_url=database_url or f"sqlite:///{workdir / 'gateway.db'}",
    )


@dataclass(frozen=True)
class AccessPointPair:
    """Two access points on loopback: a sender (``SEAT_ID``) and a receiver (``RECEIVER_SEAT_ID``).

    Attributes:
        sender_env: the ``GATEWAY_*`` variables of the sending gateway (serve and workers).
        receiver_env: those of the receiving gateway (its own ``serve``, its own SQLite file).
        receiver_dir: the receiver's folder (``gateway.db``, its logs).
    """

    sender_env: dict[str, str]
    receiver_env: dict[str, str]
    receiver_dir: Path


def prepare_access_points(
    workdir: Path,
    *,
    served: Sequence[str],
    receiver_url: str,
    database_url: str,
    sender_url: str | None = None,
) -> AccessPointPair:
    """Recreate ``workdir`` for two access points that share one development PKI: the sender's directory
    routes ``served`` to ``receiver_url`` with the receiver's certificate, and the receiver serves them.

    The receiver has its own SQLite file in ``workdir/receiver``. Without ``sender_url`` its directory is
    empty (it sends nothing back: no MLS goes to the sender). With it, the sender serves AS4 at
    ``sender_url`` (for its SPID, ``0242:`` + its seat number) and the receiver's directory lists that SPID
    for MLS there, with the sender's certificate: the MLS flows back (sent by a receiver's worker). The
    sender uses ``database_url`` and ``workdir``.
    """
    pki_dir = _fresh_pki(workdir, (SEAT_ID, RECEIVER_SEAT_ID))
    receiver_dir = workdir / "receiver"
    receiver_dir.mkdir()
    receiver_cert = pki_dir / f"{RECEIVER_SEAT_ID.lower()}.cert.pem"
    _write_directory(workdir / "directory.json", served, receiver_url, receiver_cert)
    if sender_url is None:
        _write_directory(receiver_dir / "directory.json", (), receiver_url, receiver_cert)
    else:
        sender_cert = pki_dir / f"{SEAT_ID.lower()}.cert.pem"
        mls = _entry((MLS_DOCUMENT_TYPE.uri,), MLS_PROCESS.uri, sender_url, sender_cert)
        directory = {str(spid_of_seat(SEAT_ID)): [mls]}
        (receiver_dir / "directory.json").write_text(json.dumps(directory, indent=2))
    sender_env = _gateway_env(
        workdir, pki_dir, seat_id=SEAT_ID, served=(), as4_url=sender_url, database_url=database_url
    )
    receiver_env = _gateway_env(
        receiver_dir,
        pki_dir,
        seat_id=RECEIVER_SEAT_ID,
        served=served,
        as4_url=receiver_url,
        database_url=f"sqlite:///{receiver_dir / 'gateway.db'}",
    )
    return AccessPointPair(sender_env, receiver_env, receiver_dir)


def _fresh_pki(workdir: Path, seat_ids: Sequence[str]) -> Path:
    if workdir.exists():
        shutil.rmtree(workdir)
    pki_dir = workdir / "pki"
    pki_dir.mkdir(parents=True)
    pki = generate_dev_pki(now=datetime.now(UTC), seat_ids=tuple(seat_ids))
    pki.write(pki_dir)  # private keys: created 0600
    return pki_dir


def _write_directory(path: Path, served: Sequence[str], as4_url: str, certificate: Path) -> None:
    entry = _entry((BIS_INVOICE.uri, BIS_CREDIT_NOTE.uri), BIS_BILLING_PROCESS.uri, as4_url, certificate)
    path.write_text(json.dumps({p: [entry] for p in served}, indent=2))


def _entry(document_types: Sequence[str], process: str, as4_url: str, certificate: Path) -> dict[str, object]:
    return {
        "document_types": list(document_types),
        "process": process,
        "url": as4_url,
        "certificate_file": str(certificate),
    }


def _gateway_env(
    workdir: Path,
    pki_dir: Path,
    *,
    seat_id: str,
    served: Sequence[str],
    as4_url: str | None,
    database_url: str,
) -> dict[str, str]:
    env = {
        "GATEWAY_DATABASE__URL": database_url,
        "GATEWAY_KEYSTORE__PATH": str(pki_dir / f"{seat_id.lower()}.p12"),
        "GATEWAY_KEYSTORE__PASSWORD": DEV_PKCS12_PASSWORD,
        "GATEWAY_TRUSTSTORE__PATHS": json.dumps([str(pki_dir / "root.pem"), str(pki_dir / "apca.pem")]),
        "GATEWAY_TRUSTSTORE__STAGE": "development",
        "GATEWAY_DIRECTORY__PATH": str(workdir / "directory.json"),
        "GATEWAY_AS4__SERVED": json.dumps(list(served)),
        "GATEWAY_WORKER__POLL_INTERVAL_SECONDS": "0.2",
        "GATEWAY_WORKER__BACKOFF_BASE_SECONDS": "1",
        "GATEWAY_WORKER__BACKOFF_CAP_SECONDS": "5",
        "GATEWAY_LOG_FORMAT": "json",
        "GATEWAY_LOG_LEVEL": "WARNING",
    }
    if as4_url is not None:
        env["GATEWAY_AS4__PUBLIC_URL"] = as4_url
    return env


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
    workdir: Path, env: Mapping[str, str], *, listener: socket.socket, workers: int = 1
) -> Iterator[GatewayProcesses]:
    """Start ``gateway serve`` on ``listener`` and ``workers`` delivery workers; stop them on exit.

    Logs go to ``serve.log`` and ``worker.log`` (``worker-2.log``, ... for more workers: ``run_workers``)
    in ``workdir``. On exit every process, the API and the workers together, gets SIGTERM (the workers
    finish their batch), then SIGKILL after ``STOP_TIMEOUT`` seconds. Readiness is not awaited: see
    ``wait_ready``.

    Args:
        workdir: where the log files go.
        env: the complete environment of the processes.
        listener: the API's socket on 127.0.0.1 (``listening_socket``), inherited by ``gateway serve``;
            closed here on exit (the server has its own copy).
        workers: number of ``gateway worker`` processes.
    """
    port = listener.getsockname()[1]
    fd = listener.fileno()
    with ExitStack() as stack:
        stack.callback(listener.close)
        serve_log = stack.enter_context(open(workdir / "serve.log", "wb"))
        started: list[subprocess.Popen[bytes]] = []
        try:
            started.append(
                subprocess.Popen(
                    _gateway_command("serve", "--host", "127.0.0.1", "--port", str(port), "--fd", str(fd)),
                    env=dict(env),
                    stdin=subprocess.DEVNULL,
                    stdout=serve_log,
                    stderr=serve_log,
                    pass_fds=(fd,),
                )
            )
            started += stack.enter_context(run_workers(workdir, env, workers))
            yield GatewayProcesses(
                base_url=f"http://127.0.0.1:{port}", serve=started[0], workers=tuple(started[1:])
            )
        finally:
            # All at once, before ``run_workers`` exits (its own stop then finds the workers gone).
            stop_processes(started)


@contextmanager
def run_workers(
    workdir: Path, env: Mapping[str, str], count: int
) -> Iterator[tuple[subprocess.Popen[bytes], ...]]:
    """Start ``count`` ``gateway worker`` processes; stop them on exit (``stop_processes``).

    Logs go to ``worker.log``, ``worker-2.log``, ... in ``workdir``. Yields the processes, in that order.

    Args:
        workdir: where the log files go.
        env: the complete environment of the processes.
        count: number of processes (0: none).
    """
    with ExitStack() as stack:
        started: list[subprocess.Popen[bytes]] = []
        try:
            for i in range(count):
                log = stack.enter_context(
                    open(workdir / ("worker.log" if i == 0 else f"worker-{i + 1}.log"), "wb")
                )
                started.append(
                    subprocess.Popen(
                        _gateway_command("worker"),
                        env=dict(env),
                        stdin=subprocess.DEVNULL,
                        stdout=log,
                        stderr=log,
                    )
                )
            yield tuple(started)
        finally:
            stop_processes(started)


def _gateway_command(*args: str) -> list[str]:
    """The command line of ``gateway <args>`` run by this Python (``python -m gateway.cli.main``)."""
    return [sys.executable, "-m", "gateway.cli.main", *args]


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


def _proc_file(pid: int, name: str) -> str | None:
    """``/proc/<pid>/<name>``; None where ``/proc`` is unavailable (not Linux) or the process is gone."""
    try:
        return Path(f"/proc/{pid}/{name}").read_text()
    except OSError:
        return None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time a live process has used so far (``/proc/<pid>/stat``), in seconds.

    Returns:
        None where ``/proc`` is unavailable (not Linux) or the process is gone.
    """
    stat = _proc_file(pid, "stat")
    if stat is None:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # after "pid (comm)": field 3 (state) is fields[0]
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime (14, 15)


def context_switches(pid: int) -> dict[int, tuple[int, int]]:
    """Voluntary and involuntary (preempted) context switches of each live thread of a process so far
    (``/proc/<pid>/task/<tid>/status``), keyed by thread id. Empty where ``/proc`` is unavailable or the
    process is gone. A thread that has exited is no longer listed (its switches are not counted)."""
    counts: dict[int, tuple[int, int]] = {}
    try:
        tids = [int(name) for name in os.listdir(f"/proc/{pid}/task")]
    except (OSError, ValueError):
        return counts
    for tid in tids:
        status = _proc_file(pid, f"task/{tid}/status")
        if status is None:
            continue  # exited meanwhile
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        try:
            counts[tid] = (
                int(fields["voluntary_ctxt_switches"]),
                int(fields["nonvoluntary_ctxt_switches"]),
            )
        except (KeyError, ValueError):
            continue
    return counts


def switches_between(
    before: dict[int, tuple[int, int]], after: dict[int, tuple[int, int]]
) -> tuple[int, int]:
    """Voluntary and involuntary switches from ``before`` to ``after`` (``context_switches``): the growth
    of each thread alive at both ends, plus all of a thread started in between; a thread that exited in
    between is missed."""
    voluntary = involuntary = 0
    for tid, (vol, invol) in after.items():
        vol0, invol0 = before.get(tid, (0, 0))
        voluntary += max(vol - vol0, 0)
        involuntary += max(invol - invol0, 0)
    return voluntary, involuntary


def peak_memory_mib(pid: int) -> float | None:
    """The peak resident set size (``VmHWM`` in ``/proc/<pid>/status``) of a live process, in MiB.

    Returns:
        None where ``/proc`` is unavailable (not Linux) or the process is gone.
    """
    status = _proc_file(pid, "status")
    if status is None:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # reported in kB (KiB)
    return None
