"""One database for everything: the engine, sessions, and migrations on start-up."""
from __future__ import annotations

import threading
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Iterator

import sqlalchemy as sa
from sqlalchemy import event
from sqlmodel import Session

from rxapp.plumbing import tables  # noqa: F401  (every table on the metadata before the first session)
from rxapp.plumbing.config import ROOT, settings

_engines: dict[str, sa.Engine] = {}
# SQLite has one writer at a time. Its busy handler polls, so a writer that never pauses (the feed catching up)
# can starve the periodic jobs; queueing this process's writers on a lock makes them take turns fairly.
_sqlite_writers = threading.RLock()


def _sqlite_pragmas(dbapi_connection, _record):
    cursor = dbapi_connection.cursor()
    # WAL lets the pages read while the feed writes; NORMAL is durable across process crashes.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def make_engine(url: str) -> sa.Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # The driver's own transaction handling is switched off so that every transaction starts with
        # BEGIN IMMEDIATE: it takes the write lock up front (waiting for it under busy_timeout), instead of
        # starting as a reader and failing with "database is locked" when it later needs to write after
        # another connection has committed (WAL's stale-snapshot case). SAVEPOINTs then work as documented.
        engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30,
                                                     "isolation_level": None})
        event.listen(engine, "connect", _sqlite_pragmas)
        # Read-only sessions (pages, pushes, health) begin deferred, so they read a WAL snapshot at once
        # instead of queueing behind the feed's writes.
        event.listen(engine, "begin", lambda conn: conn.exec_driver_sql(
            "BEGIN" if conn.get_execution_options().get("vj_readonly") else "BEGIN IMMEDIATE"))
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return sa.create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def engine(url: str | None = None) -> sa.Engine:
    url = url or settings().database_url
    if url not in _engines:
        _engines[url] = make_engine(url)
    return _engines[url]


@contextmanager
def session_scope(url: str | None = None, *, readonly: bool = False) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any error. `readonly` for sessions that only read."""
    eng = engine(url)
    bind = eng.execution_options(vj_readonly=True) if readonly else eng
    turn = _sqlite_writers if (not readonly and eng.dialect.name == "sqlite") else nullcontext()
    with turn, Session(bind, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def migrate(url: str | None = None) -> None:
    """Bring the schema to the newest Alembic revision."""
    from alembic import command
    from alembic.config import Config

    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "alembic"))
    cfg.set_main_option("sqlalchemy.url", (url or settings().database_url).replace("%", "%%"))
    command.upgrade(cfg, "head")


def dispose_all() -> None:
    for eng in _engines.values():
        eng.dispose()
    _engines.clear()
