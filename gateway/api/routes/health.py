"""Liveness and readiness probes (unauthenticated, no data)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    responses={
        503: {
            "description": "Still starting (validation stylesheets compiling)",
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
)
def readyz(request: Request, response: Response) -> dict[str, object]:
    """Ready once the validation stylesheets of the default rule set are compiled (start-up warm-up)."""
    ready = bool(getattr(request.app.state, "ready", False))
    if not ready:
        response.status_code = 503
    return {"status": "ready" if ready else "starting", "validation": ready}
