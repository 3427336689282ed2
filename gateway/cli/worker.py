"""``gateway worker``: run the delivery worker until SIGTERM/SIGINT (with --once: until nothing is due)."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys

from gateway.api.gil_switch import lengthen_gil_switch_interval
from gateway.api.malloc_arenas import fix_mmap_threshold
from gateway.bootstrap import Services, build_services
from gateway.config import Settings
from gateway.worker.loop import (
    WorkerStats,
    build_delivery_worker,
    build_received_worker,
    recover_held_answers,
)
from gateway.worker.reporting import ReportScheduler
from gateway.worker.retention import run_retention
from gateway.worker.webhooks import WebhookWorker


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``worker`` subcommand."""
    p = subparsers.add_parser(
        "worker",
        help="deliver accepted outbound documents over AS4 (retries, crash-safe leases)",
        description="Lease due delivery jobs and send them; SIGTERM/SIGINT finish the current batch and "
        "exit (a second signal exits at once: the leases expire and the jobs are resumed later).",
    )
    p.add_argument("--once", action="store_true", help="exit when no job is due instead of polling")
    p.add_argument("--max-jobs", type=int, metavar="N", help="exit after handling N jobs")
    p.set_defaults(func=run_worker)


def run_worker(args: argparse.Namespace, settings: Settings) -> int:
    """Run the worker; prints a JSON summary on exit. Exit code 0, or 2 for unusable settings."""
    if args.max_jobs is not None and args.max_jobs < 1:
        print("gateway worker: --max-jobs must be at least 1", file=sys.stderr)
        return 2
    fix_mmap_threshold(settings.worker.malloc_mmap_threshold_bytes)  # before the first large buffer
    lengthen_gil_switch_interval()
    services = build_services(settings, "worker")
    try:
        stats = asyncio.run(_run(services, once=args.once, max_jobs=args.max_jobs))
    finally:
        services.close()
    print(json.dumps(stats.as_json()))
    return 0


async def _run(services: Services, *, once: bool, max_jobs: int | None) -> WorkerStats:
    worker = build_delivery_worker(services)
    await recover_held_answers(services)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()

    def on_signal() -> None:
        if stop.is_set() and task is not None:
            task.cancel()  # second signal: stop now, the leases expire and the jobs are resumed
        stop.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal)
    # Status-change webhooks are dispatched from the outbox beside the deliveries (when configured).
    dispatcher = services.webhook_dispatcher
    hooks = (
        WebhookWorker(dispatcher, poll_interval=services.settings.worker.poll_interval_seconds)
        if dispatcher
        else None
    )
    hooks_task = asyncio.create_task(hooks.run()) if hooks else None
    # Peppol reporting: the previous month's TSR and EUSR on days 2..15, exactly once across workers.
    reporter = services.reporter if services.settings.reporting.enabled else None
    reports = ReportScheduler(reporter) if reporter is not None else None
    reports_task: asyncio.Task[None] | None = None
    if reports is not None:
        if once:
            await reports.run_once()  # queued before the deliveries of this run
        else:
            reports_task = asyncio.create_task(reports.run())
    # Working-table retention (idempotency keys, delivered webhooks) beside the deliveries; not with --once.
    retention_task = None if once else asyncio.create_task(run_retention(services, stop))
    # The received documents' validation, MLS and draft, beside the deliveries (GATEWAY_AS4__AFTER_RECEIPT).
    received = build_received_worker(services)
    received_task = asyncio.create_task(received.run(stop, once=once)) if received is not None else None
    try:
        if received_task is not None and once:
            await received_task  # finished first: their MLS are among this run's deliveries
        return await worker.run(stop=stop, once=once, max_jobs=max_jobs)
    finally:
        if received_task is not None:
            stop.set()  # the document in hand is finished first
            await asyncio.gather(received_task, return_exceptions=True)
        if reports is not None and reports_task is not None:
            reports.stop()
            await reports_task
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
        if hooks is not None and hooks_task is not None:
            if once:
                await hooks.run_once()  # flush the events of the deliveries just made
            hooks.stop()
            await hooks_task
        if retention_task is not None:
            stop.set()
            await retention_task
        await services.aclose()
