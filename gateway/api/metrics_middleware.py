"""ASGI middleware for every HTTP request: a request id in the log context (and the response), and the
request counter and latency histogram of /metrics. Plain ASGI, so streaming responses are not buffered."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.observability import log_context

UNMATCHED_ROUTE = "<unmatched>"
#: Methods counted under their own name (RFC 9110 §9.3 plus PATCH); any other is counted as "other", so
#: invented methods cannot grow the number of series.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"})
OTHER_METHOD = "other"
# A caller-supplied id is kept only if it is short and plain: it lands in logs and headers.
_ACCEPTABLE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
# Seconds; from a fast /healthz to a large document's validation.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class HTTPMetrics:
    """The HTTP request metrics, registered in one app's registry.

    Labels use the route template (``/v1/outbound/{document_id}``), never the raw path, and the method
    only when it is a standard one (``other`` otherwise), so ids, 404 probes and invented methods cannot
    grow the number of series.
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "gateway_http_requests",
            "HTTP requests handled, by method, route template and status code.",
            ("method", "route", "status"),
            registry=registry,
        )
        self.latency = Histogram(
            "gateway_http_request_duration_seconds",
            "Time from request start to the end of the response, by method and route template.",
            ("method", "route"),
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self._children: dict[tuple[str, str, str], tuple[Counter, Histogram]] = {}

    def record(self, method: str, route: str, status: str, seconds: float) -> None:
        """Count one answered request and observe its latency.

        The two labelled children of a label set are looked up once and kept (``labels`` checks and
        converts its values and takes the metric's lock on every call): the same children, as the
        registry keeps them, and a bounded number of them, as the labels are (the class's description).
        """
        children = self._children.get((method, route, status))
        if children is None:
            children = (self.requests.labels(method, route, status), self.latency.labels(method, route))
            self._children[(method, route, status)] = children
        children[0].inc()
        children[1].observe(seconds)


def _route_of(scope: Scope) -> str:
    # FastAPI's router stores the matched route in the (shared, mutated) scope.
    route: Any = scope.get("route")
    path: object = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED_ROUTE


def method_label(method: str) -> str:
    """The method as a metrics label: a standard method, or ``other``."""
    return method if method in KNOWN_METHODS else OTHER_METHOD


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            candidate = bytes(value).decode("latin-1")
            if _ACCEPTABLE_ID.match(candidate):
                return candidate
            break
    return str(uuid.uuid4())


class ObservabilityMiddleware:
    """Sets ``request_id`` in the log context, echoes it as ``X-Request-ID`` and records the metrics.

    Args:
        app: the wrapped ASGI app.
        metrics: where to count (one HTTPMetrics per app).
    """

    def __init__(self, app: ASGIApp, *, metrics: HTTPMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        status = 500  # if the app fails before answering, the server answers 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode("latin-1")))
                message = {**message, "headers": headers}
            await send(message)

        try:
            with log_context(request_id=request_id):
                await self.app(scope, receive, send_with_id)
        finally:
            method = method_label(str(scope.get("method", "")))
            self.metrics.record(method, _route_of(scope), str(status), time.perf_counter() - started)
