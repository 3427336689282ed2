"""The ``Idempotency-Key`` request header, as the outbound submissions and the expense actions read it: one
printable ASCII token of at most 255 characters, scoped by the services to the API client (the key's name).

The header is a parameter of the route itself, not a dependency of its own, which FastAPI would solve as
one more level per request (BENCHMARKS.md, *Sending API instructions outside validation*); the route then
calls ``one_idempotency_key`` first to refuse a request carrying two different ones.
"""

from __future__ import annotations

from typing import Any

from fastapi import Header, Request
from fastapi.exceptions import RequestValidationError


def idempotency_key_header(description: str) -> Any:
    """The ``Header`` declaring an optional Idempotency-Key (FastAPI validates the first line against it)."""
    return Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",
        description=description,
    )


def one_idempotency_key(request: Request, key: str | None) -> str | None:
    """The request's Idempotency-Key; two different ones are refused (422), as two API keys are (401):
    joined by a proxy they read ``a, b``, which the pattern refuses, and read apart only the first would
    act. Called first in the route, after FastAPI validated ``key`` (the first line), as a dependency of
    its own was solved after the route's others."""
    if len(set(request.headers.getlist("idempotency-key"))) > 1:
        raise RequestValidationError(
            [
                {
                    "type": "value_error",
                    "loc": ("header", "Idempotency-Key"),
                    "msg": "Two different Idempotency-Key values: send one",
                    "input": None,
                }
            ]
        )
    return key
