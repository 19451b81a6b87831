#!/usr/bin/env bash
# Every test: the SQLite lane (unit, integration, browser, attacks), then the PostgreSQL lane (unit, integration,
# faults) when a server answers, and beside them all the scale-out lane (every browser and attack test on
# PostgreSQL, Redis and two workers) when Redis answers too.
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
status=0
lane() { echo "== $* (at $((SECONDS / 60)) min $((SECONDS % 60)) s)"; }

lane "Lint: ruff (settings in pyproject.toml)"
ruff check . || status=1

# The unit and integration lanes run on TEST_WORKERS processes (pytest-xdist; each a database of its own, see
# tests/conftest.py), a test file to a process; the browser and attack lanes share one built app, so run alone.
WORKERS=(-n "${TEST_WORKERS:-2}" --dist loadfile)

PG_URL=${TEST_PG_URL:-postgresql://postgres@127.0.0.1:5432/vj_test}
pg_ready() {
  python - "$PG_URL" <<'PY'
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
}
HAVE_PG=0
pg_ready && HAVE_PG=1

# The PostgreSQL lane: every test that uses a database (the `db_url` fixture) again on PostgreSQL, each xdist worker a
# database of its own. The other tests never open one (TEST_DATABASE_URL cannot change what they do) and have run in
# the SQLite lane. Then the fault tests: real processes killed and restarted (tests/faults/: the feed's process
# mid-batch, the gateway, a private PostgreSQL under load, Notify failing for ten minutes), each ending as an
# undisturbed run. $1: a --basetemp for pytest, or empty.
pg_lane() {
  TEST_DATABASE_URL="$PG_URL" TEST_DATABASE_TESTS_ONLY=1 python -m pytest -q -m "not browser and not faults" \
    "${WORKERS[@]}" ${1:+--basetemp "$1"}
}
faults_lane() {
  TEST_DATABASE_URL="$PG_URL" python -m pytest -q -m faults tests/faults ${1:+--basetemp "$1"}
}

# The scale-out lane: the whole browser and attack suite again, on the product as scripts/scale.sh runs it, on
# PostgreSQL (a database of its own, dropped and recreated) with Redis (a database of its own, emptied) and two
# backend workers on one port, so a page's socket lands on either worker while the feed, the sender and the sweeps
# run in the elected one. Browser and attack tests mostly wait on pages (each lane keeps about half of one core
# busy here), so this lane, followed by the PostgreSQL lane, starts first and runs beside the SQLite lanes rather
# than after them, from a copy of this tree (its own built app and test-artifacts; the same .venv and .tools): the
# 20 minutes CI has would not hold the lanes one after another (about 23 minutes on 2 cores). Its output follows
# the SQLite lanes'. TEST_SCALE_SUBSET=1 runs only the tests whose behaviour crosses workers (victim page, board
# sign-out, portal, live channels and rooms).
export TEST_SCALE_PG_URL=${TEST_SCALE_PG_URL:-${PG_URL%/*}/vj_scale_test}
export TEST_SCALE_REDIS_URL=${TEST_SCALE_REDIS_URL:-redis://127.0.0.1:6379/9}
SCALE_PID=""
SCALE_DIR=""
if [[ $HAVE_PG == 1 ]] && python -c "import redis, sys; redis.Redis.from_url(sys.argv[1], socket_connect_timeout=3).ping()" \
    "$TEST_SCALE_REDIS_URL" 2>/dev/null; then
  if [[ ${TEST_SCALE_SUBSET:-0} == 1 ]]; then
    SCALE_BROWSER="tests/browser/test_victim_page.py tests/browser/test_board_signout.py tests/browser/test_portal.py"
    SCALE_ATTACKS="tests/security/test_live_channels.py tests/security/test_live_rooms.py"
  else
    SCALE_BROWSER="tests/browser"
    SCALE_ATTACKS="tests/security"
  fi
  SCALE_DIR=$(mktemp -d "${TMPDIR:-/tmp}/vj-scale-lane-XXXXXX")
  trap 'rm -rf "$SCALE_DIR"' EXIT
  rsync -a --exclude .git --exclude .venv --exclude .tools --exclude .web --exclude data --exclude test-artifacts \
    --exclude __pycache__ --exclude .pytest_cache --exclude .states ./ "$SCALE_DIR/tree/"
  ln -s "$PWD/.venv" "$SCALE_DIR/tree/.venv"
  ln -s "$PWD/.tools" "$SCALE_DIR/tree/.tools"
  lane "Scale-out lane (PostgreSQL + Redis, two workers), then the PostgreSQL lane's database tests, started beside the SQLite lanes; their output follows"
  (
    cd "$SCALE_DIR/tree" && source scripts/env.sh
    s=0
    start=$SECONDS
    at() { echo "(at $(( (SECONDS - start) / 60 )) min $(( (SECONDS - start) % 60 )) s of this lane)"; }
    echo "== Scale-out lane: browser tests on PostgreSQL + Redis, two workers $(at)"
    # shellcheck disable=SC2086
    TEST_SCALE_OUT=1 python -m pytest -q --durations=5 --basetemp "$SCALE_DIR/pytest-browser" $SCALE_BROWSER || s=1
    echo "== Scale-out lane: attacks on PostgreSQL + Redis, two workers $(at)"
    # shellcheck disable=SC2086
    TEST_SCALE_OUT=1 python -m pytest -q --durations=5 --basetemp "$SCALE_DIR/pytest-attacks" $SCALE_ATTACKS || s=1
    echo "== PostgreSQL lane: database tests $(at)"
    pg_lane "$SCALE_DIR/pytest-pg" || s=1
    echo "== Scale-out and PostgreSQL lanes done $(at), status $s"
    exit $s
  ) > "$SCALE_DIR/lane.log" 2>&1 &
  SCALE_PID=$!
elif [[ $HAVE_PG == 1 ]]; then
  echo "Redis not available at $TEST_SCALE_REDIS_URL: skipping the scale-out lane"
fi

lane "SQLite lane: unit and integration tests"
python -m pytest -q -m "not browser and not faults" "${WORKERS[@]}" || status=1

lane "SQLite lane: browser tests (Debian Chromium)"
python -m pytest -q --durations=5 tests/browser || status=1

# Apart from the browser tests: Playwright's sync API keeps an event loop in the process, which the attacks'
# own asyncio clients cannot share.
lane "SQLite lane: attacks through the real socket and HTTP against the running product"
python -m pytest -q --durations=5 tests/security || status=1

if [[ $HAVE_PG == 1 ]]; then
  if [[ -z $SCALE_PID ]]; then
    lane "PostgreSQL lane: database tests"
    pg_lane "" || status=1
  fi
  # In this stream even when the scale-out lane runs, which keeps the two streams about as long as each other.
  lane "PostgreSQL lane: fault tests"
  faults_lane "" || status=1
else
  lane "SQLite lane: fault tests (no PostgreSQL: the database restart is skipped)"
  python -m pytest -q -m faults tests/faults || status=1
fi

if [[ -n $SCALE_PID ]]; then
  lane "Scale-out and PostgreSQL lanes: waiting for them"
  wait "$SCALE_PID" || status=1
  cat "$SCALE_DIR/lane.log"
  mkdir -p test-artifacts
  rm -rf test-artifacts/scale-out && cp -r "$SCALE_DIR/tree/test-artifacts" test-artifacts/scale-out 2>/dev/null || true
fi
lane "Done, status $status"
exit $status
