"""A small HTTP client for the agent's web API (urllib, no extra dependency): JSON, bytes and the
status of one request, with an optional Bearer token, and waiting on a condition. Test thread only."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from email.message import Message
from typing import Any

TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    headers: Message  # case-insensitive; a missing header reads as None
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class WebClient:
    def __init__(self, base_url: str, token: str | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token

    def request(self, path: str, method: str = "GET", headers: dict[str, str] | None = None) -> Reply:
        all_headers = dict(headers or {})
        if self.token is not None:
            all_headers.setdefault("Authorization", f"Bearer {self.token}")
        req = urllib.request.Request(self.base_url + path, method=method, headers=all_headers)
        try:
            with urllib.request.urlopen(req, timeout=TIMEOUT_S) as response:
                return Reply(response.status, response.headers, response.read())
        except urllib.error.HTTPError as error:
            return Reply(error.code, error.headers, error.read())

    def json(self, path: str) -> Any:
        reply = self.request(path)
        if reply.status != 200:
            raise AssertionError(f"GET {path}: HTTP {reply.status}: {reply.body[:200]!r}")
        return reply.json()

    def wait_json(self, path: str, done: Callable[[Any], bool], timeout_s: float) -> Any:
        """GET `path` until `done` holds for its JSON (connection errors count as not yet)."""
        deadline = time.monotonic() + timeout_s
        last: Any = None
        while time.monotonic() < deadline:
            try:
                last = self.json(path)
            except (OSError, AssertionError):
                last = None
            if last is not None and done(last):
                return last
            time.sleep(0.25)
        raise AssertionError(f"GET {path} did not satisfy the condition within {timeout_s} s; last: {last!r}"[:2000])
