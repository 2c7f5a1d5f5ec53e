"""The API's request bodies are capped while they arrive, through the real ASGI server: a
chunked upload past PAAS_UPLOAD_MAX_BYTES is answered 413 in the API's error format before
Django would have spooled all of it to disk."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from conftest import free_port, start_panel

CAP = 1024 * 1024


@pytest.fixture
def capped_panel(committed_db) -> Iterator[tuple[str, str]]:
    port = free_port()
    process = start_panel(port, PAAS_UPLOAD_MAX_BYTES=str(CAP))
    try:
        yield f"http://127.0.0.1:{port}", committed_db.workspace_a.hostname
    finally:
        process.terminate()
        process.wait(10)


def test_a_chunked_upload_past_the_cap_is_413_json(capped_panel):
    url, host = capped_panel
    sent = 0

    def chunks() -> Iterator[bytes]:
        nonlocal sent
        block = b"\0" * (256 * 1024)
        for _ in range(64):  # 16 MB, far past the cap
            sent += len(block)
            yield block

    response = httpx.post(f"{url}/api/v1/services/1/uploads/", content=chunks(), timeout=60,
                          headers={"Host": host, "Content-Type": "application/gzip",
                                   "Authorization": "Bearer paas_whatever"})
    assert response.status_code == 413
    error = response.json()["error"]
    assert error["code"] == "too_large" and "PAAS_UPLOAD_MAX_BYTES" in error["message"]

    # Under the cap the API answers as usual (here: the token is no token).
    small = httpx.post(f"{url}/api/v1/services/1/uploads/", content=b"\0" * 1000, timeout=30,
                       headers={"Host": host, "Content-Type": "application/gzip",
                                "Authorization": "Bearer paas_whatever"})
    assert small.status_code == 401 and small.json()["error"]["code"]
