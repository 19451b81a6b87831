"""Shared fixtures: a fresh, migrated database per test (SQLite file by default; PostgreSQL when
TEST_DATABASE_URL points at one), and a fixed server secret so links can be derived in tests."""
from __future__ import annotations

import os
import shutil
import sqlite3
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
_tmp = tempfile.mkdtemp(prefix="vj-tests-")
os.environ.setdefault("VJ_DATA_DIR", _tmp)
os.environ.setdefault("SECRET_KEY", "test-secret-key-0123456789abcdef0123456789")
os.environ.setdefault("TELEMETRY_ENABLED", "false")

import pytest  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from rxapp.plumbing import config, db  # noqa: E402

SAMPLES = ROOT / "integrations" / "storm" / "scenarios"


# Every test starts from a database at the newest migration. Running the migrations once per test cost most of
# the suite's time, so they run once per session into a template, and each test gets a copy of it: a file copy
# for SQLite, `CREATE DATABASE ... TEMPLATE` for PostgreSQL. tests/test_migrations.py runs them for real.
_made: dict[str, object] = {}


def _sqlite_template() -> Path:
    if "sqlite" not in _made:
        path = Path(_tmp) / "template.db"
        db.migrate(f"sqlite:///{path}")
        db.dispose_all()
        with sqlite3.connect(path) as conn:  # one self-contained file to copy, with nothing left in a WAL
            conn.execute("PRAGMA journal_mode=DELETE")
        conn.close()
        _made["sqlite"] = path
    return _made["sqlite"]


def _database_name(url: str) -> str:
    return url.rsplit("/", 1)[1].split("?", 1)[0]


def _admin(url: str):
    return db.make_engine(url.rsplit("/", 1)[0] + "/postgres").execution_options(isolation_level="AUTOCOMMIT")


def _fresh_postgres(url: str) -> None:
    """The test database dropped (whoever is still connected) and made again from the migrated template."""
    name = _database_name(url)
    template = f"{name}_template"
    admin = _admin(url)
    try:
        with admin.connect() as conn:
            if "postgres" not in _made:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)'))
                conn.execute(sa.text(f'CREATE DATABASE "{template}"'))
                db.migrate(url.rsplit("/", 1)[0] + f"/{template}")
                db.dispose_all()
                _made["postgres"] = template
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    finally:
        admin.dispose()


def _worker_url(url: str) -> str:
    """Under pytest-xdist each worker has a PostgreSQL database of its own (`<name>_gw0`, ...)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    return f"{url}_{worker}" if worker and url.startswith("postgresql") else url


@pytest.fixture
def db_url(tmp_path, monkeypatch):
    url = _worker_url(os.environ.get("TEST_DATABASE_URL", "")) or f"sqlite:///{tmp_path / 'test.db'}"
    db.dispose_all()
    if url.startswith("postgresql"):
        _fresh_postgres(url)
    else:
        shutil.copyfile(_sqlite_template(), tmp_path / "test.db")
    monkeypatch.setenv("DATABASE_URL", url)
    config.reset_settings()
    yield url
    db.dispose_all()
    config.reset_settings()


@pytest.fixture
def notify():
    """The local Notify-compatible server (integrations/govuk_notify/simulator), posting receipts quickly."""
    from integrations.govuk_notify.simulator import NotifyServer

    server = NotifyServer(receipt_delay=0.01).start()
    yield server
    server.stop()


def pytest_collection_modifyitems(config, items):
    """TEST_DATABASE_TESTS_ONLY=1 (CI's PostgreSQL lane, after the SQLite lane has run everything): only the tests
    that use a database (the `db_url` fixture, directly or through another fixture). The others never open one, so
    TEST_DATABASE_URL cannot change what they do, and they have just passed on the same code."""
    if os.environ.get("TEST_DATABASE_TESTS_ONLY") != "1":
        return
    keep = [item for item in items if "db_url" in getattr(item, "fixturenames", ())]
    if len(keep) != len(items):
        config.hook.pytest_deselected(items=[item for item in items if "db_url" not in getattr(item, "fixturenames", ())])
        items[:] = keep
