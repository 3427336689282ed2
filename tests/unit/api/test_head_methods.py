"""HEAD wherever GET: one rule (``with_head``) for the methods the API's ``OPTIONS *`` and the pages' 405
name, as ``HeadAsGet`` answers HEAD for every GET route of both."""

from __future__ import annotations

from gateway.web.head_requests import with_head


def test_head_is_named_wherever_get_is_and_nowhere_else() -> None:
    assert with_head(["GET", "POST"]) == {"GET", "HEAD", "POST"}
    assert with_head(iter(["POST"])) == {"POST"}
    assert with_head([]) == set()
