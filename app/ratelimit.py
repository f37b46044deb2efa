"""A brake on guessing: failed authentications per address in a sliding window.

Only failures are braked: a caller checks the credential first and calls :meth:`FailedAuthLimiter.refuse`
only when it is wrong, so a valid API key or operator token is accepted even from an address that is
braked (an attacker sharing a NAT or an untrusted proxy's address with a portal cannot lock it out).
Client keys and the operator token have separate brakes (see :class:`~app.container.Container`)."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from app.errors import TooManyRequests


class FailedAuthLimiter:
    """Counts failed authentications per address in a sliding window; past the limit, 429 with
    Retry-After. Memory stays bounded under a spray of addresses (at most ``max_addresses``)."""

    def __init__(
        self,
        limit: int = 20,
        window_seconds: float = 60.0,
        *,
        max_addresses: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window = window_seconds
        self.max_addresses = max_addresses
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}

    def __len__(self) -> int:
        return len(self._failures)

    def _prune(self, address: str, now: float) -> deque[float]:
        q = self._failures.get(address)
        if q is None:
            return deque()
        while q and q[0] <= now - self.window:
            q.popleft()
        if not q:
            del self._failures[address]
        return q

    def refuse(self, address: str) -> None:
        """A failed authentication from ``address``: 429 when the address is already braked, else
        counted (the caller then answers 401). Never called for a valid credential."""
        self.check(address)
        self.fail(address)

    def check(self, address: str) -> None:
        now = self._clock()
        q = self._prune(address, now)
        if len(q) >= self.limit:
            retry = max(1, int(q[0] + self.window - now) + 1)
            raise TooManyRequests(
                "Too many failed authentication attempts from this address.",
                headers={"Retry-After": str(retry)},
            )

    def fail(self, address: str) -> None:
        now = self._clock()
        self._prune(address, now)
        q = self._failures.setdefault(address, deque())
        q.append(now)
        if len(q) > self.limit:  # only the newest `limit` failures matter
            q.popleft()
        if len(self._failures) > self.max_addresses:
            self._evict(now)

    def _evict(self, now: float) -> None:
        """Drop expired windows; if still too many, the addresses whose last failure is oldest."""
        for address in list(self._failures):
            self._prune(address, now)
        excess = len(self._failures) - self.max_addresses
        if excess > 0:
            oldest = sorted(self._failures, key=lambda a: self._failures[a][-1])[
                : max(excess, self.max_addresses // 10)
            ]
            for address in oldest:
                del self._failures[address]
