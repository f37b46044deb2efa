"""TtlCache (catalogue rows for creates, API keys): TTL, invalidation races, one load per key at a time."""

from __future__ import annotations

import asyncio

import pytest

from app.ttl_cache import TtlCache

TTL = 5.0


async def test_concurrent_misses_share_one_load() -> None:
    cache, calls = TtlCache[str](TTL, 100), []
    release = asyncio.Event()

    async def load() -> str:
        calls.append(1)
        await release.wait()
        return "row"

    waiters = [asyncio.create_task(cache.get(("k",), load)) for _ in range(20)]
    await asyncio.sleep(0)
    release.set()
    assert await asyncio.gather(*waiters) == ["row"] * 20
    assert len(calls) == 1
    assert await cache.get(("k",), load) == "row" and len(calls) == 1  # cached now


async def test_a_failed_load_fails_its_waiters_and_is_retried() -> None:
    cache, calls = TtlCache[str](TTL, 100), []
    release = asyncio.Event()

    async def broken() -> str:
        calls.append(1)
        await release.wait()
        raise ConnectionError("database went away")

    waiters = [asyncio.create_task(cache.get(("k",), broken)) for _ in range(3)]
    await asyncio.sleep(0)
    release.set()
    results = await asyncio.gather(*waiters, return_exceptions=True)
    assert all(isinstance(r, ConnectionError) for r in results)
    assert len(calls) == 1

    async def fine() -> str:
        return "row"

    assert await cache.get(("k",), fine) == "row"


async def test_an_entry_expires_and_a_load_racing_an_invalidation_is_not_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cache = TtlCache[str](TTL, 100)
    now = [100.0]
    monkeypatch.setattr("app.ttl_cache.time.monotonic", lambda: now[0])

    async def first() -> str:
        return "v1"

    async def second() -> str:
        return "v2"

    assert await cache.get(("k",), first) == "v1"
    now[0] += TTL / 2
    assert await cache.get(("k",), second) == "v1"
    now[0] += TTL
    assert await cache.get(("k",), second) == "v2"

    async def racing() -> str:
        cache.clear()  # a local commit wrote the catalogue while this load ran
        return "stale"

    now[0] += 2 * TTL
    assert await cache.get(("k",), racing) == "stale"
    assert ("k",) not in cache.entries


async def test_keep_decides_what_is_stored() -> None:
    cache, calls = TtlCache[str | None](TTL, 100), []

    async def unknown() -> str | None:
        calls.append(1)
        return None

    for _ in range(3):
        assert await cache.get("k", unknown, keep=lambda v: v is not None) is None
    assert len(calls) == 3  # a miss is never cached: asked again every time


async def test_the_cache_is_bounded() -> None:
    cache = TtlCache[int](TTL, 3)
    for i in range(10):

        async def load(i: int = i) -> int:
            return i

        assert await cache.get(i, load) == i
    assert len(cache.entries) <= 3


async def test_an_entry_near_its_end_is_refreshed_in_the_background(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cache = TtlCache[str | None](TTL, 100, refresh_ahead=1.0)
    now = [100.0]
    monkeypatch.setattr("app.ttl_cache.time.monotonic", lambda: now[0])
    answers = iter(["v1", "v2", None])
    calls: list[int] = []

    async def load() -> str | None:
        calls.append(1)
        return next(answers)

    def keep(value: str | None) -> bool:
        return value is not None

    assert await cache.get("k", load, keep) == "v1"
    now[0] += TTL - 0.5  # in the refresh window: the caller gets v1 at once, a reload starts
    assert await cache.get("k", load, keep) == "v1"
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert len(calls) == 2
    assert await cache.get("k", load, keep) == "v2"  # fresh again: no third load
    assert len(calls) == 2
    now[0] += TTL - 0.5
    assert await cache.get("k", load, keep) == "v2"
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert "k" not in cache.entries  # the reload said "gone": the old entry does not linger


async def test_a_failed_background_refresh_leaves_the_entry_to_expire(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cache = TtlCache[str](TTL, 100, refresh_ahead=1.0)
    now = [100.0]
    monkeypatch.setattr("app.ttl_cache.time.monotonic", lambda: now[0])

    async def first() -> str:
        return "v1"

    async def broken() -> str:
        raise ConnectionError("database went away")

    assert await cache.get("k", first) == "v1"
    now[0] += TTL - 0.5
    assert await cache.get("k", broken) == "v1"
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert await cache.get("k", broken) == "v1"  # still within its life
    now[0] += 1.0
    with pytest.raises(ConnectionError):
        await cache.get("k", broken)
