"""Engine and sessions on PostgreSQL (the only engine). Services own transactions through
:meth:`Database.transaction`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import orjson
from sqlalchemy import event, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

_TOUCHED = "paybridge.touched"


class DatabaseNotConfigured(RuntimeError):
    """No database URL: neither set by the operator nor provided by the embedded server."""


class Database:
    """One engine and its session factory; created in the app's lifespan, never at import."""

    def __init__(self, url: str, *, pool_size: int = 10, echo: bool = False) -> None:
        if not url:
            raise DatabaseNotConfigured(
                "no database: set PAYBRIDGE_DATABASE_URL, or start paybridge with `python -m app "
                "serve|worker|migrate`, which starts the embedded PostgreSQL when it is unset"
            )
        self.url = url
        self.engine: AsyncEngine = create_async_engine(
            url,
            echo=echo,
            pool_pre_ping=False,
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_recycle=1800,
        )
        # A Session subclass of our own, so the change hooks below see only this database's sessions.
        self._session_class: type[Session] = type("DatabaseSession", (Session,), {})
        self._watchers: list[tuple[tuple[type[Any], ...], Callable[[], None]]] = []
        self.sessionmaker = async_sessionmaker(
            self.engine, expire_on_commit=False, autoflush=False, sync_session_class=self._session_class
        )
        _track_writes(self._session_class, self._watchers)
        # Reads run in autocommit: no BEGIN/ROLLBACK round trips. Each statement still sees one
        # committed snapshot, exactly as under READ COMMITTED inside a transaction.
        self._reader = async_sessionmaker(
            self.engine.execution_options(isolation_level="AUTOCOMMIT"),
            expire_on_commit=False,
            autoflush=False,
            sync_session_class=self._session_class,
        )
        self._pool_size = pool_size
        self._raw_pool: asyncpg.Pool | None = None
        self._raw_lock = asyncio.Lock()

    async def raw(self) -> asyncpg.Pool:
        """A plain asyncpg pool beside the ORM's, for the hot paths (create, callback, read)
        that do their work in one or two hand-written statements.
        JSON and JSONB come back decoded (orjson), timestamps as aware UTC datetimes, exactly as
        through the ORM. Created on first use, closed by :meth:`dispose`.

        A released connection is only rolled back if a transaction was left open, not reset
        (asyncpg's default reset is one more round trip per use): code on this pool must not
        change session state (SET, LISTEN, session-level advisory locks; the transaction-level
        ``pg_advisory_xact_lock`` is fine)."""
        pool = self._raw_pool
        if pool is not None:
            return pool
        async with self._raw_lock:
            if self._raw_pool is None:
                url = make_url(self.url).set(drivername="postgresql")
                self._raw_pool = await asyncpg.create_pool(
                    url.render_as_string(hide_password=False),
                    min_size=1,
                    max_size=self._pool_size,
                    init=_init_raw_connection,
                    reset=_keep_session,
                )
            pool = self._raw_pool
        return pool

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction: committed on normal exit, rolled back on error."""
        async with self.sessionmaker() as session, session.begin():
            yield session

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session for reads only: autocommit (READ COMMITTED, statement by statement). Write
        in :meth:`transaction`, never here."""
        async with self._reader() as session:
            yield session

    async def dispose(self) -> None:
        if self._raw_pool is not None:
            pool, self._raw_pool = self._raw_pool, None
            await pool.close()
        await self.engine.dispose()

    def on_commit_touching(self, models: tuple[type[Any], ...], callback: Callable[[], None]) -> None:
        """Call ``callback`` after every commit (through this database's sessions) that wrote rows
        of ``models``: an ORM flush of such objects or an ORM-enabled UPDATE/DELETE on them.
        In-process caches use it to drop entries the moment their source rows change; writes by
        raw SQL text or by other processes are not seen (such caches need a TTL as well)."""
        self._watchers.append((models, callback))


async def _init_raw_connection(conn: asyncpg.Connection) -> None:
    for name in ("json", "jsonb"):
        await conn.set_type_codec(
            name,
            encoder=lambda value: orjson.dumps(value).decode(),
            decoder=orjson.loads,
            schema="pg_catalog",
        )


async def _keep_session(conn: asyncpg.Connection) -> None:
    """No session reset on release: nothing on the raw pool changes session state."""


def _track_writes(
    session_class: type[Session], watchers: list[tuple[tuple[type[Any], ...], Callable[[], None]]]
) -> None:
    def touch(session: Session, classes: set[type[Any]]) -> None:
        if classes and watchers:
            session.info.setdefault(_TOUCHED, set()).update(classes)

    @event.listens_for(session_class, "after_flush")
    def _after_flush(session: Session, _flush: UOWTransaction) -> None:
        objects = [*session.new, *session.dirty, *session.deleted]
        touch(session, {type(obj) for obj in objects})

    @event.listens_for(session_class, "do_orm_execute")
    def _on_execute(state: ORMExecuteState) -> None:
        if state.is_update or state.is_delete:
            touch(state.session, {mapper.class_ for mapper in state.all_mappers})

    @event.listens_for(session_class, "after_commit")
    def _after_commit(session: Session) -> None:
        touched: set[type[Any]] = session.info.pop(_TOUCHED, set())
        for models, callback in watchers:
            if any(issubclass(cls, models) for cls in touched):
                callback()
