"""``gateway serve``: run the API with uvicorn."""

from __future__ import annotations

import argparse
import logging
import socket

import uvicorn

from gateway.api.app import create_app
from gateway.api.edge_server import install_log_rate_limits, server_config
from gateway.api.gil_switch import lengthen_gil_switch_interval
from gateway.api.malloc_arenas import fix_mmap_threshold, limit_malloc_arenas
from gateway.bootstrap import stage_warnings
from gateway.config import Settings

log = logging.getLogger("gateway.serve")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("serve", help="run the HTTP API")
    p.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument(
        "--fd",
        type=int,
        help="serve on this inherited listening socket (a file descriptor) instead of binding --host/--port",
    )
    p.set_defaults(func=run_serve)


def run_serve(args: argparse.Namespace, settings: Settings) -> int:
    limit_malloc_arenas(settings.server.malloc_arenas)  # before any thread starts
    lengthen_gil_switch_interval()
    fix_mmap_threshold(settings.server.malloc_mmap_threshold_bytes)
    for warning in stage_warnings(settings):  # started all the same
        log.warning("%s", warning)
    app = create_app(settings)
    # Connection cap, request-head deadline, uvicorn limits (settings.server; the body deadline is
    # middleware in the app); repeated server log lines rate-limited.
    install_log_rate_limits()
    config = server_config(
        app, settings.server, host=args.host, port=args.port, log_level=settings.log_level.lower()
    )
    sockets = None if args.fd is None else [socket.socket(fileno=args.fd)]  # family and type read from it
    uvicorn.Server(config).run(sockets=sockets)
    return 0
