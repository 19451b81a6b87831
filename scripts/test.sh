#!/usr/bin/env bash
# Every test: the SQLite lane (unit, integration, browser), then the PostgreSQL lane when a server answers.
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
status=0

echo "== Lint: ruff (settings in pyproject.toml)"
ruff check . || status=1

# The unit and integration lanes run on TEST_WORKERS processes (pytest-xdist; each a database of its own, see
# tests/conftest.py), a test file to a process; the browser and attack lanes share one built app, so run alone.
WORKERS=(-n "${TEST_WORKERS:-2}" --dist loadfile)

echo "== SQLite lane: unit and integration tests"
python -m pytest -q -m "not browser" "${WORKERS[@]}" || status=1

echo "== SQLite lane: browser tests (Debian Chromium)"
python -m pytest -q tests/browser || status=1

# Apart from the browser tests: Playwright's sync API keeps an event loop in the process, which the attacks'
# own asyncio clients cannot share.
echo "== SQLite lane: attacks through the real socket and HTTP against the running product"
python -m pytest -q tests/security || status=1

PG_URL=${TEST_PG_URL:-postgresql://postgres@127.0.0.1:5432/vj_test}
if python - "$PG_URL" <<'PY'
import sys
import psycopg
url = sys.argv[1]
admin = url.rsplit("/", 1)[0] + "/postgres"
try:
    with psycopg.connect(admin, connect_timeout=3, autocommit=True) as conn:
        name = url.rsplit("/", 1)[1]
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname=%s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
except Exception as exc:
    print(f"PostgreSQL not available ({exc.__class__.__name__}): skipping that lane")
    sys.exit(1)
PY
then
  echo "== PostgreSQL lane: database tests"
  TEST_DATABASE_URL="$PG_URL" python -m pytest -q -m "not browser" "${WORKERS[@]}" || status=1
fi
exit $status
