"""A brake on guessing: failed authentications per address in a sliding window."""

from __future__ import annotations

import time
from collections import deque

from app.errors import TooManyRequests


class FailedAuthLimiter:
    """Counts failed authentications per address in a sliding window; past the limit, 429."""

    def __init__(self, limit: int = 20, window_seconds: float = 60.0) -> None:
        self.limit = limit
        self.window = window_seconds
        self._failures: dict[str, deque[float]] = {}

    def _prune(self, address: str, now: float) -> deque[float]:
        q = self._failures.setdefault(address, deque())
        while q and q[0] <= now - self.window:
            q.popleft()
        return q

    def check(self, address: str) -> None:
        now = time.monotonic()
        q = self._prune(address, now)
        if len(q) >= self.limit:
            retry = max(1, int(q[0] + self.window - now) + 1)
            raise TooManyRequests(
                "Too many failed authentication attempts from this address.",
                headers={"Retry-After": str(retry)},
            )

    def fail(self, address: str) -> None:
        now = time.monotonic()
        self._prune(address, now).append(now)
        if len(self._failures) > 10_000:  # bound memory under a spray of addresses
            for key in list(self._failures)[:5_000]:
                if not self._failures[key]:
                    del self._failures[key]
