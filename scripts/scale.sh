#!/usr/bin/env bash
# The product scaled out: PostgreSQL, Redis and several backend workers on one port (README: "Running at scale").
#
#   scripts/scale.sh [demo] [--workers N] [--port P] [--speed S] [--database-url URL]     (make scale)
#       This machine: the demo (simulated STORM, NICHE and Notify, demo accounts) on the local PostgreSQL and
#       Redis. The demo's database (default postgresql://postgres@127.0.0.1:5432/vj_scale_demo) is DROPPED and
#       recreated each run, as `make demo` recreates its SQLite file. REDIS_URL defaults to redis://127.0.0.1:6379/0.
#   scripts/scale.sh serve [--workers N] [--port P] [--env-file FILE]  (make scale-serve)
#       For real: `python -m rxapp.cli serve` (its checks, its refusals) with N workers, refusing unless the
#       configuration names PostgreSQL and a Redis that answers.
#
# Either way the schema is migrated once, before any worker starts (each worker's own start-up check then finds
# it up to date), Reflex runs N Granian workers accepting on the same port (GRANIAN_WORKERS; Reflex's own
# default with Redis is 2 x CPUs + 1), and each worker tries for the runner's PostgreSQL advisory lock: one runs
# the feeds, the sender and the sweeps, the others take over if it dies (rxapp/plumbing/runner.py).
# Browsers need no sticky sessions: Reflex's socket.io client uses the websocket transport only, so each page's
# connection is one upgraded HTTP request that stays on the worker that accepted it.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

mode=demo
if [[ $# -gt 0 && ( $1 == demo || $1 == serve ) ]]; then
  mode=$1
  shift
fi
workers=${WORKERS:-2}
port=
speed=10
database_url=postgresql://postgres@127.0.0.1:5432/vj_scale_demo
env_file=
while [[ $# -gt 0 ]]; do
  case $1 in
    --workers) workers=$2; shift 2 ;;
    --port) port=$2; shift 2 ;;
    --speed) speed=$2; shift 2 ;;
    --database-url) database_url=$2; shift 2 ;;
    --env-file) env_file=$2; shift 2 ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "scale.sh: unknown argument $1 (see scripts/scale.sh --help)" >&2; exit 2 ;;
  esac
done
if ! [[ $workers =~ ^[0-9]+$ ]] || (( workers < 1 || workers > 64 )); then
  echo "scale.sh: --workers must be a number from 1 to 64" >&2
  exit 2
fi

if [[ $mode == demo ]]; then
  export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
  # The demo's database, dropped and recreated: refuse anything but a local PostgreSQL database.
  python - "$database_url" <<'PY'
import sys

import psycopg
import redis
from sqlalchemy.engine import make_url

url = make_url(sys.argv[1])
if not url.drivername.startswith("postgresql") or not url.database:
    sys.exit("scale.sh: --database-url must name a PostgreSQL database (it is dropped and recreated)")
admin = url.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
try:
    with psycopg.connect(admin, connect_timeout=5, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{url.database}"')
except psycopg.Error as exc:
    sys.exit(f"scale.sh: PostgreSQL did not answer at {url.host}:{url.port or 5432} ({exc.__class__.__name__})")
from rxapp.plumbing.config import settings

try:
    redis.Redis.from_url(settings().redis_url, socket_connect_timeout=3).ping()
except redis.RedisError as exc:
    sys.exit(f"scale.sh: Redis did not answer at REDIS_URL ({exc.__class__.__name__})")
print(f"Database {url.database} recreated; Redis answers.")
PY
  port=${port:-3000}
  echo "Starting the demo on PostgreSQL and Redis with $workers backend workers on port $port"
  export GRANIAN_WORKERS=$workers
  exec python -m rxapp.demo --database-url "$database_url" --port "$port" --speed "$speed"
fi

# serve: the configuration must name PostgreSQL and a Redis that answers (with several workers, a page's state
# lives in Redis, and a push made by the worker that runs the feed reaches pages held by the others through it).
export GRANIAN_WORKERS=$workers
python - "$env_file" <<'PY'
import os
import sys

import redis

from rxapp.plumbing.config import settings, use_env_file

if sys.argv[1]:
    use_env_file(sys.argv[1])  # its values win, GRANIAN_WORKERS included, as under systemd
cfg = settings()
problems = []
if not cfg.database_url.startswith("postgresql"):
    problems.append("DATABASE_URL must be postgresql://… (several workers share one database)")
if not cfg.redis_url:
    problems.append("REDIS_URL must be set (Reflex's state manager, shared by the workers)")
else:
    try:
        redis.Redis.from_url(cfg.redis_url, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        problems.append(f"Redis did not answer at REDIS_URL ({exc.__class__.__name__})")
if problems:
    print("scale.sh: will not start several workers:", *(f"  - {p}" for p in problems), sep="\n", file=sys.stderr)
    sys.exit(2)
print(f"PostgreSQL and Redis configured; {os.environ['GRANIAN_WORKERS']} backend workers.")
PY
exec python -m rxapp.cli ${env_file:+--env-file "$env_file"} serve ${port:+--port "$port"}
