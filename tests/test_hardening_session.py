"""Dashboard logout ends the session on the server: a saved copy of the session cookie, replayed
after logout, is sent back to the login form. Other sessions stay logged in; expired sessions are
refused and purged."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from app.models import OperatorSession
from tests.conftest import BASE_URL
from tests.support import Clock
from tests.test_dashboard import _csrf, _login

PAGE = "/admin/payments"
COOKIE = "pb_admin_session"


def _browser(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE_URL)


async def _sessions(app: FastAPI) -> int:
    async with app.state.container.db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(OperatorSession)) or 0)


async def _replay(app: FastAPI, cookie: str) -> httpx.Response:
    async with _browser(app) as thief:
        return await thief.get(PAGE, headers={"Cookie": f"{COOKIE}={cookie}"})


async def test_a_cookie_saved_before_logout_is_refused_after_it(app: FastAPI) -> None:
    async with _browser(app) as browser, _browser(app) as other_browser:
        assert (await _login(browser)).status_code == 303
        assert (await _login(other_browser)).status_code == 303
        saved = browser.cookies[COOKIE]
        assert (await _replay(app, saved)).status_code == 200  # the copy works while logged in

        page = await browser.get(PAGE)
        r = await browser.post("/admin/logout", data={"csrf": _csrf(page)})
        assert r.status_code == 303 and r.headers["location"] == "/admin/login"

        replayed = await _replay(app, saved)
        assert replayed.status_code == 303 and replayed.headers["location"] == "/admin/login"
        # Posting with the old session is refused too (nothing to redeliver through it).
        async with _browser(app) as thief:
            r = await thief.post(
                "/admin/logout", data={"csrf": _csrf(page)}, headers={"Cookie": f"{COOKIE}={saved}"}
            )
            assert r.status_code == 303 and r.headers["location"] == "/admin/login"
        # Logging out one browser does not end another operator session.
        assert (await other_browser.get(PAGE)).status_code == 200
        assert await _sessions(app) == 1


async def test_logout_without_its_csrf_token_ends_nothing(app: FastAPI) -> None:
    async with _browser(app) as browser:
        await _login(browser)
        r = await browser.post("/admin/logout", data={"csrf": "forged"})
        assert r.status_code == 303
        assert (await browser.get(PAGE)).status_code == 200


async def test_expired_sessions_are_refused_and_purged(app: FastAPI, clock: Clock) -> None:
    async with _browser(app) as browser:
        await _login(browser)
        old = browser.cookies[COOKIE]
        clock.advance(hours=8, seconds=1)
        assert (await _replay(app, old)).status_code == 303
        async with _browser(app) as fresh:
            await _login(fresh)  # a new login purges the expired row
            assert (await fresh.get(PAGE)).status_code == 200
        assert await _sessions(app) == 1
