"""The child processes of ``gateway bench instructions``: one path's documents, a marker before each.

Run by its file path with ``python -P FILE STEP JOB`` (``-P``: this file's folder is not put on
``sys.path``), never imported by the bench, so that the ``gateway`` package it works with is the one
``PYTHONPATH`` names: this checkout's, or an export of another commit (``--reference``). The file is
always the running checkout's. It therefore imports only what the gateway had at 125f212 (the settings,
``create_app``, ``build_services``, ``build_delivery_worker``, ``AS4Receiver.receive``, ``build_sbd``,
``build_user_message``, ``prepare_access_points``, ``InvoiceCopies``), nothing of the bench that reads
its counts, and a reference older than that may lack some of it.

Steps (``JOB`` is a JSON file the bench writes; each step writes its answer to ``JOB``'s ``out``):

- ``prepare``, run without valgrind: the two access points of ``bench e2e`` on loopback in ``workdir``
  (``prepare_access_points``: a development PKI, the sender's SQLite file, the receiver's folder), both
  databases migrated; for the worker, every copy (warm-up and counted) submitted through the sender's API
  so that each is a due delivery; for the receiver, every copy built into an AS4 message by the sender's
  code (``build_sbd``, ``build_user_message``, the sender's key, the receiver's certificate) and written
  to ``workdir``. Answers the sender's and the receiver's ``GATEWAY_*`` variables.
- ``count``, run under callgrind (``--dump-before=clock_nanosleep*``): ``warm_up`` documents, then
  ``instruction_marker`` before each of the ``documents`` counted and once after the last. Answers what
  each document ended as (``accepted``, ``delivered``, ``valid``), which the bench checks, and the
  marker's calls (``EVENTS``). With ``stages`` (``--stages``), the functions they name are wrapped after
  the warm-up with a marker on entry and exit too (``gateway.bench.instructions_stages``).

The paths (what one document is):

- ``sender``: one POST of a copy of the template (its own number, ``InvoiceCopies``) to the sender's API,
  ``create_app(Settings(), warm=True)`` in a Starlette ``TestClient`` (the client's side counted too),
  answered 202.
- ``worker``: one ``DeliveryWorker.run_batch(limit=1)`` of ``build_services(Settings(), "worker")``:
  lease, build, sign, encrypt, the HTTP send to the receiver (a ``gateway serve`` the bench started, not
  under valgrind), the receipt's check, the outcome recorded: delivered.
- ``receiver``: one ``AS4Receiver.receive(headers, body, defer=...)`` of ``build_services(Settings(),
  "serve")`` (the receipt and its unit of work), then the deferred work (validation, verdict, MLS
  decision, expense draft, commit): valid.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

PATHS = ("sender", "worker", "receiver")
"""The paths a job may name, in the order the bench prints them."""

EVENTS: list[str] = []
"""The calls of ``instruction_marker`` so far, in order (answered by ``count``): ``doc`` before each counted
document, ``end`` after the last, ``+<stage>`` and ``-<stage>`` on a stage's entry and exit."""


def instruction_marker(event: str = "doc") -> None:
    """Enter the C library's ``clock_nanosleep`` (``time.sleep(0)``): callgrind dumps its counts there
    (``--dump-before``). Nothing else the counted process runs sleeps; the bench checks the number of
    dumps."""
    EVENTS.append(event)
    time.sleep(0)


def _before(job: dict[str, Any], index: int) -> None:
    """Before copy ``index``: the stages wrapped before the first counted one (``job["stages"]``), a
    marker before each counted one."""
    if index == job["warm_up"] and job.get("stages"):
        job["missing"] = _wrap_stages(job["stages"])
    if index >= job["warm_up"]:
        instruction_marker()


def _wrap_stages(stages: list[list[str]]) -> list[str]:
    """Wrap each ``(label, "module:qualname")`` of ``stages`` with a marker on entry and on exit, where it
    is defined and wherever a ``gateway`` module bound it by name; answer the labels this gateway has no
    such plain function or method for (``instructions_stages``)."""
    import importlib
    import inspect

    missing = []
    for label, spec in stages:
        module_name, _, qualname = spec.partition(":")
        *owners, name = qualname.split(".")
        try:
            owner: Any = importlib.import_module(module_name)
            for attr in owners:
                owner = getattr(owner, attr)
            function = inspect.getattr_static(owner, name)
        except (ImportError, AttributeError):
            missing.append(label)
            continue
        if not inspect.isfunction(function) or inspect.iscoroutinefunction(function):
            missing.append(label)
            continue

        wrapper = _marked(label, function)
        if owners:
            setattr(owner, name, wrapper)
            continue
        for module in list(sys.modules.values()):
            if getattr(module, "__name__", "").startswith("gateway"):
                for attr, value in list(vars(module).items()):
                    if value is function:
                        setattr(module, attr, wrapper)
    return missing


def main(argv: list[str]) -> int:
    """``STEP JOB``: run the step (``prepare`` or ``count``) of the job file."""
    step, job_file = argv
    job = json.loads(Path(job_file).read_text())
    answer = prepare(job) if step == "prepare" else count(job)
    Path(job["out"]).write_text(json.dumps(answer))
    return 0


def _marked(label: str, function: Any) -> Any:
    """``function`` with a marker on its entry (``+label``) and its exit (``-label``)."""
    import functools

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        instruction_marker("+" + label)
        try:
            return function(*args, **kwargs)
        finally:
            instruction_marker("-" + label)

    return wrapper


# -- prepare (no valgrind) ----------------------------------------------------------------------------------


def prepare(job: dict[str, Any]) -> dict[str, Any]:
    """The access points, databases and documents of ``job``; their variables."""
    from gateway.bench.loopback import prepare_access_points
    from gateway.model import complete_document
    from gateway.services.conversion import parse_document_json
    from gateway.store import upgrade_database

    workdir = Path(job["workdir"])
    template = Path(job["template"]).read_bytes()
    buyer = complete_document(parse_document_json(template)).buyer.endpoint
    if buyer is None:
        raise SystemExit(f"{job['template']}: the buyer has no endpoint to deliver to")
    pair = prepare_access_points(
        workdir,
        served=[f"{buyer.scheme}:{buyer.value}"],
        receiver_url=job["receiver_url"],
        database_url=f"sqlite:///{workdir / 'gateway.db'}",
    )
    sender_env = {**pair.sender_env, **job["env"], "GATEWAY_RESPONSES__MLS_TYPE": "FAILURE_ONLY"}
    receiver_env = {**pair.receiver_env, **job["env"]}
    upgrade_database(sender_env["GATEWAY_DATABASE__URL"])
    upgrade_database(receiver_env["GATEWAY_DATABASE__URL"])
    total = job["warm_up"] + job["documents"]
    if job["path"] == "worker":
        os.environ.update(sender_env)
        statuses = _post_copies(job, range(total))
        if statuses != [202] * total:
            raise SystemExit(f"the sender answered {statuses} to the copies to deliver")
    elif job["path"] == "receiver":
        os.environ.update(sender_env)
        _write_messages(job, workdir, receiver_env, total)
    return {"sender_env": sender_env, "receiver_env": receiver_env, "receiver_dir": str(pair.receiver_dir)}


def _copies(job: dict[str, Any]) -> Any:
    from gateway.bench.e2e_load import InvoiceCopies

    return InvoiceCopies(Path(job["template"]).read_bytes(), tag=job["tag"])


def _post_copies(job: dict[str, Any], indices: range, *, marked: bool = False) -> list[int]:
    """POST copies ``indices`` to a sender of this process's variables; their status codes. ``marked``:
    a marker before each copy from ``job["warm_up"]`` on, and once after the last."""
    from starlette.testclient import TestClient

    from gateway.api.app import create_app
    from gateway.config import Settings

    copies = _copies(job)
    headers = {"Authorization": f"Bearer {job['api_key']}", "Content-Type": "application/json"}
    statuses = []
    with TestClient(create_app(Settings(), warm=True)) as client:
        for index in indices:
            _, body = copies.copy(index)
            if marked:
                _before(job, index)
            statuses.append(client.post(copies.route, content=body, headers=headers).status_code)
        if marked:
            instruction_marker("end")
    return statuses


def _write_messages(job: dict[str, Any], workdir: Path, receiver_env: dict[str, str], total: int) -> None:
    """Copies 0 .. ``total`` - 1 as AS4 messages from the sender to the receiver, in ``workdir``."""
    from gateway.as4 import build_user_message
    from gateway.bench.loopback import SEAT_ID
    from gateway.bootstrap.loading import load_identity
    from gateway.config import Settings
    from gateway.crypto import DEV_PKCS12_PASSWORD, load_key_material
    from gateway.model import BIS_BILLING_PROCESS, BIS_INVOICE, ParticipantID, complete_document
    from gateway.model.responses import spid_of_seat
    from gateway.services.conversion import parse_document_json
    from gateway.ubl.sbdh import build_sbd
    from gateway.ubl.writer import write_ubl

    sender = load_identity(Settings())
    assert sender is not None
    receiver_keystore = Path(receiver_env["GATEWAY_KEYSTORE__PATH"]).read_bytes()
    receiver_certificate = load_key_material(receiver_keystore, password=DEV_PKCS12_PASSWORD).certificate
    copies = _copies(job)
    for index in range(total):
        _, body = copies.copy(index)
        document = complete_document(parse_document_json(body))
        seller, buyer = document.seller.endpoint, document.buyer.endpoint
        assert seller is not None
        assert buyer is not None
        now = datetime.now(UTC)
        sbd = build_sbd(
            write_ubl(document),
            sender=ParticipantID.parse(f"{seller.scheme}:{seller.value}"),
            receiver=ParticipantID.parse(f"{buyer.scheme}:{buyer.value}"),
            document_type=BIS_INVOICE,
            process=BIS_BILLING_PROCESS,
            country_c1="BE",
            instance_id=str(uuid4()),
            created=now,
            mls_to=spid_of_seat(SEAT_ID),
            mls_type="FAILURE_ONLY",
        )
        message = build_user_message(
            sbd,
            sender=sender,
            receiver_certificate=receiver_certificate,
            message_id=f"{uuid4()}@bench.invalid",
            timestamp=now,
        )
        (workdir / f"message-{index}.json").write_text(json.dumps(list(dict(message.headers).items())))
        (workdir / f"message-{index}.body").write_bytes(message.body)


# -- count (under callgrind) --------------------------------------------------------------------------------


def count(job: dict[str, Any]) -> dict[str, Any]:
    """Run ``job``'s path: ``warm_up`` documents, then the counted ones each after a marker."""
    os.environ.update(job["process_env"])
    path = job["path"]
    if path == "sender":
        statuses = _post_copies(job, range(job["warm_up"] + job["documents"]), marked=True)
        ended = ["accepted" if s == 202 else f"HTTP {s}" for s in statuses]
    elif path == "worker":
        ended = asyncio.run(_deliver(job))
    else:
        ended = _receive(job)
    return {"ended": ended, "events": EVENTS, "missing": job.get("missing", [])}


async def _deliver(job: dict[str, Any]) -> list[str]:
    from gateway.bootstrap import build_services
    from gateway.config import Settings
    from gateway.worker.loop import build_delivery_worker

    services = build_services(Settings(), "worker")
    worker = build_delivery_worker(services)
    ended = []
    for index in range(job["warm_up"] + job["documents"]):
        _before(job, index)
        results = await worker.run_batch(limit=1)
        ended.append(",".join(str(getattr(r, "status", r)) for r in results) or "nothing leased")
    instruction_marker("end")
    return ended


def _receive(job: dict[str, Any]) -> list[str]:
    from gateway.bootstrap import build_services
    from gateway.config import Settings

    receiver = build_services(Settings(), "serve").receiver
    assert receiver is not None
    workdir = Path(job["workdir"])
    ended = []
    for index in range(job["warm_up"] + job["documents"]):
        fields = json.loads((workdir / f"message-{index}.json").read_text())
        headers = tuple((str(name), str(value)) for name, value in fields)
        body = (workdir / f"message-{index}.body").read_bytes()
        deferred: list[Any] = []
        _before(job, index)
        result = receiver.receive(headers, body, defer=deferred.append)
        status = [str(after()) for after in deferred]
        for after in deferred:
            after.release()
        ended.append(",".join(status) or f"{result.outcome}: no work after the receipt")
        del headers, body
    instruction_marker("end")
    return ended


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
