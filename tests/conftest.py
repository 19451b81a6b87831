"""Shared fixtures: a fresh, migrated database per test (SQLite file by default; PostgreSQL when
TEST_DATABASE_URL points at one), and a fixed server secret so links can be derived in tests."""
from __future__ import annotations

import os
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


def _reset_postgres(url: str) -> None:
    engine = db.make_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture
def db_url(tmp_path, monkeypatch):
    url = os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{tmp_path / 'test.db'}"
    if url.startswith("postgresql"):
        _reset_postgres(url)
    monkeypatch.setenv("DATABASE_URL", url)
    config.reset_settings()
    db.dispose_all()
    db.migrate(url)
    yield url
    db.dispose_all()
    config.reset_settings()
