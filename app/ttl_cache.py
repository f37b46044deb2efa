"""A small in-process cache for rows that change rarely: a TTL, invalidation, one load at a time.

- Entries live :attr:`TtlCache.ttl` seconds; :meth:`TtlCache.clear` empties the cache at once
  (callers hook it to ``Database.on_commit_touching``) and a load that raced a clear is not kept.
- One load per key at a time: when an entry expires under load, one request reads it and the
  others wait for that read (no stampede of identical queries every TTL).
- ``keep`` decides what is stored (e.g. not "unknown": a miss is asked again next time).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar, cast

T = TypeVar("T")


class TtlCache(Generic[T]):
    def __init__(self, ttl: float, max_entries: int) -> None:
        self.ttl, self.max_entries = ttl, max_entries
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
            return hit[1]
        pending = self.loading.get(key)
        if pending is not None:
            return cast(T, await asyncio.shield(pending))
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
        if self.generation == generation and (keep is None or keep(value)):
            if len(self.entries) >= self.max_entries:
                self.entries.clear()
            self.entries[key] = (now, value)
        return value
