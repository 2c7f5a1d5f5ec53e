"""The API over HTTP (httpx): a workspace URL and its token; every error answer becomes an
ApiError whose one-line text is the API's message.

Where to connect: `PAAS_CONNECT_ADDRESS` (e.g. 127.0.0.1) sends every request to that address
with the workspace's name in the Host header (and TLS SNI); without it a `*.localhost` name is
sent to 127.0.0.1, as browsers do, and other names are resolved as usual."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import Any

import httpx

from cli import USER_AGENT

TIMEOUT = httpx.Timeout(30.0, read=120.0)


class ApiError(Exception):
    """An error answer or a failed request; str() is one line."""

    def __init__(self, message: str, status: int = 0, code: str = "") -> None:
        super().__init__(message)
        self.status, self.code = status, code


def connect_address(host: str) -> str | None:
    explicit = os.environ.get("PAAS_CONNECT_ADDRESS", "").strip()
    if explicit:
        return explicit
    if host == "localhost" or host.endswith(".localhost"):
        return "127.0.0.1"
    return None


def error_of(response: httpx.Response) -> ApiError:
    try:
        error = response.json()["error"]
        message, code = str(error["message"]), str(error.get("code", ""))
        fields = error.get("fields") or {}
        details = "; ".join(f"{name}: {' '.join(texts)}" for name, texts in fields.items())
        if details and details not in message:
            message = f"{message} ({details})"
    except (ValueError, KeyError, TypeError):
        message, code = response.reason_phrase or "error", ""
    text = " ".join(message.split())
    return ApiError(f"{response.status_code} {text}", response.status_code, code)


class Api:
    def __init__(self, url: str, token: str) -> None:
        self.base, self.token = httpx.URL(url.rstrip("/") + "/api/v1/"), token
        self.host = self.base.host
        address = connect_address(self.host)
        self.target = self.base.copy_with(host=address) if address else self.base
        headers = {"Authorization": f"Bearer {token}", "User-Agent": USER_AGENT,
                   "Accept": "application/json",
                   "Host": self.host + (f":{self.base.port}" if self.base.port else "")}
        self.extensions = {"sni_hostname": self.host} if address else {}
        self.http = httpx.Client(headers=headers, timeout=TIMEOUT)

    def url(self, path: str) -> str:
        return str(self.target.join(path.lstrip("/")))

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self.http.request(method, self.url(path), extensions=self.extensions,
                                         **kwargs)
        except httpx.HTTPError as error:
            raise ApiError(f"Cannot reach {self.base.scheme}://{self.host}: "
                           f"{error.__class__.__name__} {error}".strip()) from None
        if response.status_code >= 400:
            raise error_of(response)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise ApiError(f"Not an API answer from {self.host} "
                           f"({response.headers.get('content-type', '?')}).") from None

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params={k: v for k, v in params.items()
                                                 if v is not None})

    def post(self, path: str, body: object = None) -> Any:
        return self.request("POST", path, json=body)

    def put(self, path: str, body: object) -> Any:
        return self.request("PUT", path, json=body)

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path)

    def upload(self, path: str, chunks: Iterable[bytes], size: int) -> Any:
        return self.request("POST", path, content=chunks,
                            headers={"Content-Type": "application/gzip",
                                     "Content-Length": str(size)})

    def all(self, path: str, **params: Any) -> Iterator[dict]:
        """Every item of a list, page after page."""
        offset = 0
        while True:
            page = self.get(path, limit=1000, offset=offset, **params)
            yield from page["results"]
            if not page.get("has_more"):
                return
            offset = page["next_offset"]

    def close(self) -> None:
        self.http.close()
