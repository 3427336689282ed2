"""Liveness and readiness probes (unauthenticated, no data)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from gateway.crypto.lifecycle import ExpiryState, expiries

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    responses={
        200: {
            "description": "``ready``, or ``degraded``: serving, but a watched certificate expires within "
            "30 days (listed in ``certificates``)",
        },
        503: {
            "description": "``starting`` (validation stylesheets compiling) or ``certificate-expired`` "
            "(our AP certificate or a trust anchor expired while running)",
            "content": {"application/json": {"schema": {"type": "object"}}},
        },
    },
)
def readyz(request: Request, response: Response) -> dict[str, object]:
    """Ready once the validation stylesheets of the default rule set are compiled (start-up warm-up).

    ``certificates`` lists the watched certificates (our AP certificate, the AP and SMP trust anchors)
    that expire within 30 days or have expired, each with role, name, serial, not_after, days_left, state.
    """
    ready = bool(getattr(request.app.state, "ready", False))
    services = request.app.state.services
    due = [e for e in expiries(services.certificates, services.clock.now()) if e.state is not ExpiryState.OK]
    status = "ready" if ready else "starting"
    if any(e.state is ExpiryState.EXPIRED for e in due):
        status = "certificate-expired"
    elif ready and due:
        status = "degraded"
    if status in ("starting", "certificate-expired"):
        response.status_code = 503
    return {"status": status, "validation": ready, "certificates": [e.as_json() for e in due]}
