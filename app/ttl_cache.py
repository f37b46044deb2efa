"""A small in-process cache for rows that change rarely: a TTL, invalidation, one load at a time.

- Entries live :attr:`TtlCache.ttl` seconds; :meth:`TtlCache.clear` empties the cache at once
  (callers hook it to ``Database.on_commit_touching``) and a load that raced a clear is not kept.
- One load per key at a time: when an entry expires under load, one request reads it and the
  others wait for that read (no stampede of identical queries every TTL).
- Refresh ahead: an entry read in the last :attr:`TtlCache.refresh_ahead` seconds of its life is
  read again in the background while the caller gets the (still valid) entry, so that under steady
  load no request waits for a reload; an entry nobody reads simply expires.
- ``keep`` decides what is stored (e.g. not "unknown": a miss is asked again next time).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar, cast

T = TypeVar("T")

log = logging.getLogger("paybridge.cache")


class TtlCache(Generic[T]):
    def __init__(self, ttl: float, max_entries: int, refresh_ahead: float | None = None) -> None:
        self.ttl, self.max_entries = ttl, max_entries
        self.refresh_ahead = ttl / 5 if refresh_ahead is None else refresh_ahead
        self._refreshing: set[asyncio.Task[None]] = set()
        self.entries: dict[Hashable, tuple[float, T]] = {}
        self.loading: dict[Hashable, asyncio.Future[T]] = {}
        self.generation = 0  # bumped by every clear: a load that raced one is not stored

    def clear(self) -> None:
        self.entries.clear()
        self.generation += 1

    async def get(
        self, key: Hashable, load: Callable[[], Awaitable[T]], keep: Callable[[T], bool] | None = None
    ) -> T:
        hit = self.entries.get(key)
        now = time.monotonic()
        if hit is not None and now - hit[0] <= self.ttl:
            if now - hit[0] > self.ttl - self.refresh_ahead and key not in self.loading:
                task = asyncio.get_running_loop().create_task(self._refresh(key, load, keep))
                self._refreshing.add(task)
                task.add_done_callback(self._refreshing.discard)
            return hit[1]
        pending = self.loading.get(key)
        if pending is not None:
            return cast(T, await asyncio.shield(pending))
        return await self._load(key, load, keep)

    async def _refresh(
        self, key: Hashable, load: Callable[[], Awaitable[T]], keep: Callable[[T], bool] | None
    ) -> None:
        if key in self.loading:
            return
        try:
            await self._load(key, load, keep)
        except Exception as exc:  # the entry expires as usual; the next reader loads it and sees
            log.warning("background cache refresh failed", extra={"error": type(exc).__name__})

    async def _load(
        self, key: Hashable, load: Callable[[], Awaitable[T]], keep: Callable[[T], bool] | None
    ) -> T:
        now = time.monotonic()
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self.loading[key] = future
        generation = self.generation
        try:
            value = await load()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning when nobody waited
            raise
        finally:
            del self.loading[key]
        future.set_result(value)
        if self.generation == generation:
            if keep is None or keep(value):
                if len(self.entries) >= self.max_entries:
                    self.entries.clear()
                self.entries[key] = (now, value)
            else:  # e.g. the key was revoked: an older entry must not outlive this answer
                self.entries.pop(key, None)
        return value
