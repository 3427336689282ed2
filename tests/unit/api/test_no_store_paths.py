"""Which requests ``gateway.api.no_store.NoStore`` marks: the ``/v1`` answers, after the application's
root path (``root_path``), and a root path is a whole segment."""

from __future__ import annotations

import pytest

from gateway.api.no_store import is_api_path


@pytest.mark.parametrize(
    ("root", "path", "api"),
    [
        ("", "/v1", True),
        ("", "/v1/outbound", True),
        ("", "/v10/outbound", False),
        ("", "/healthz", False),
        ("/gateway", "/gateway/v1/outbound", True),
        ("/gateway", "/gateway/healthz", False),
        # A root path that is not a whole segment of the path is not stripped from it.
        ("/v", "/v1/outbound", True),
        ("/v1", "/v1/outbound", False),
    ],
)
def test_an_api_path_is_v1_after_a_root_path_of_whole_segments(root: str, path: str, api: bool) -> None:
    assert is_api_path({"type": "http", "root_path": root, "path": path}) is api
