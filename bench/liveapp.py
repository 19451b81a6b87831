"""The real product for the live benchmark: `reflex run --env prod --single-port` on a temporary SQLite file,
fed by a StormSimulator running on its own event loop in a thread of the benchmark (as tests/browser does).

By default the app runs from a throw-away copy of the project (without .venv, .git and data), so its build
never touches the developer's `.web/` and `.states/`, nor another run using them; `in_place=True` runs it from
the project folder itself, exactly as the browser tests do.
"""
from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Optional

import httpx

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
HEALTHZ_TOKEN = "bench-healthz-token-0123456789abcdef0123"
_TOP_LEVEL_SKIPPED = {".venv", ".git", ".tools", "data", ".states", "test-artifacts", ".pytest_cache", "bench"}


def _copy_ignore(folder: str, names: list[str]) -> set[str]:
    """Skip the project's own bulky or private folders (top level only: node_modules has `data/` folders)."""
    skipped = {n for n in names if n == "__pycache__"}
    if Path(folder).resolve() == ROOT:
        skipped |= {n for n in names if n in _TOP_LEVEL_SKIPPED}
    return skipped


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Feed:
    """The simulator on its own loop in a thread. `send` returns each frame's release time (perf_counter and
    wall clock), taken in the simulator's thread just before the frame is handed to its connections."""

    def __init__(self, token: str):
        from integrations.storm.simulator import StormSimulator

        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="storm-simulator", daemon=True)
        self.thread.start()
        self.sim = StormSimulator([], heartbeat_interval=5.0, token=token)
        self._call(self.sim.start(HOST, 0))

    def _call(self, coro, timeout: float = 60):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=timeout)

    async def send(self, events: list[dict]) -> list[tuple[float, float]]:
        """Release `events` together (one burst on the wire); awaitable from another event loop."""
        async def _append():
            times = []
            for event in events:
                times.append((time.perf_counter(), time.time()))
                self.sim.append_event(event)
            return times

        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(_append(), self.loop))

    def close(self) -> None:
        try:
            self._call(self.sim.stop(), timeout=20)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=5)


class LiveApp:
    def __init__(self, data_dir: Path, secret: str, feed: Feed, feed_token: str, in_place: bool = False,
                 port: int | None = None, git_ref: str | None = None, database_url: str | None = None,
                 redis_url: str | None = None, workers: int = 1):
        """`database_url` (PostgreSQL), `redis_url` and `workers` > 1: the scale-out mode, Granian workers on one
        port (GRANIAN_WORKERS, as scripts/scale.sh runs it)."""
        self.data = data_dir
        self.port = port or free_port()
        self.base = f"http://{HOST}:{self.port}"
        self.db_url = database_url or f"sqlite:///{data_dir / 'app.db'}"
        self.workers = workers
        self.workdir = ROOT if in_place else data_dir / "app"
        self.in_place = in_place
        self.git_ref = git_ref
        self.env = dict(os.environ)
        self.env.update({
            "DATABASE_URL": self.db_url, "VJ_DATA_DIR": str(data_dir), "SECRET_KEY": secret,
            "PUBLIC_BASE_URL": self.base, "STORM_FEED_URL": feed.sim.url, "STORM_FEED_TOKEN": feed_token,
            # /healthz gives its details (the feed client's reconnects) only to staff or to this token.
            "HEALTHZ_TOKEN": HEALTHZ_TOKEN,
            "REFLEX_USE_SYSTEM_BUN": "1", "TELEMETRY_ENABLED": "false", "REFLEX_CHECK_LATEST_VERSION": "false",
            "PYTHONPATH": str(self.workdir),
            "PATH": f"{ROOT / '.tools' / 'node_modules' / '.bin'}:{ROOT / '.venv' / 'bin'}:{os.environ.get('PATH', '')}",
        })
        self.env.pop("REDIS_URL", None)
        if redis_url:
            self.env["REDIS_URL"] = redis_url
        if workers > 1:
            self.env["GRANIAN_WORKERS"] = str(workers)
        self.proc: Optional[subprocess.Popen] = None
        self.log_path = data_dir / "reflex.log"
        self.startup_seconds = 0.0

    def _prepare_copy(self) -> None:
        if self.git_ref is None:
            shutil.copytree(ROOT, self.workdir, symlinks=True, ignore=_copy_ignore)
            return
        # A committed version, with the working tree's installed frontend packages beside it.
        self.workdir.mkdir(parents=True)
        archive = subprocess.run(["git", "archive", "--format=tar", self.git_ref], cwd=ROOT, check=True,
                                 capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(self.workdir)], input=archive, check=True)
        if (ROOT / ".web").is_dir():
            shutil.copytree(ROOT / ".web", self.workdir / ".web", symlinks=True, ignore=_copy_ignore)

    def start(self, timeout: float = 400) -> None:
        if not self.in_place:
            self._prepare_copy()
        # Migrated (by the app's own code) before it starts, so its health check never meets an empty file.
        subprocess.run([sys.executable, "-c", "from rxapp.plumbing.db import migrate; migrate()"], env=self.env,
                       cwd=self.workdir, check=True, capture_output=True)
        log = open(self.log_path, "w")
        started = time.time()
        self.proc = subprocess.Popen(
            [str(ROOT / ".venv" / "bin" / "reflex"), "run", "--env", "prod", "--single-port",
             "--backend-port", str(self.port), "--backend-host", HOST],
            env=self.env, cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("the app stopped while starting:\n" + self.log_tail())
            try:
                if httpx.get(f"{self.base}/healthz", timeout=2).status_code == 200 and \
                        httpx.get(f"{self.base}/track/x", timeout=5, follow_redirects=True).status_code < 500:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        else:
            raise RuntimeError("the app did not start in time:\n" + self.log_tail())
        self.startup_seconds = time.time() - started

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    @property
    def web_dir(self) -> Path:
        return self.workdir / ".web"

    def stop(self) -> None:
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=20)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.proc = None

    # ---- the backend process --------------------------------------------------------------------------

    def backend_pid(self) -> int:
        """The process of the app's tree that holds the listening socket (the one serving the websockets)."""
        pids = _descendants(self.proc.pid) | {self.proc.pid}
        inodes = _listening_inodes(self.port)
        holders = [pid for pid in pids if _holds_socket(pid, inodes)]
        if not holders:
            raise RuntimeError(f"no process of the app listens on port {self.port}")
        # A parent may keep the socket it passed to a worker: the worker is the one that grew.
        return max(holders, key=rss_bytes)

    def worker_pids(self) -> list[int]:
        """Every backend worker: the processes of the app's tree holding the listening socket, without a parent
        that only handed it on (with one worker, the same as `backend_pid`)."""
        if self.workers <= 1:
            return [self.backend_pid()]
        pids = _descendants(self.proc.pid) | {self.proc.pid}
        inodes = _listening_inodes(self.port)
        holders = sorted((pid for pid in pids if _holds_socket(pid, inodes)), key=rss_bytes, reverse=True)
        return holders[:self.workers]


def _children(pid: int) -> set[int]:
    out = set()
    task_dir = Path(f"/proc/{pid}/task")
    try:
        for task in task_dir.iterdir():
            try:
                out.update(int(x) for x in (task / "children").read_text().split())
            except OSError:
                pass
    except OSError:
        pass
    return out


def _descendants(pid: int) -> set[int]:
    found, todo = set(), [pid]
    while todo:
        for child in _children(todo.pop()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def socket_inodes(port: int, state: str) -> set[str]:
    """The inodes of this machine's TCP sockets on local `port` in `state` ("0A" listening, "01" established)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == state and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    return inodes


def _listening_inodes(port: int) -> set[str]:
    return socket_inodes(port, "0A")


def _holds_socket(pid: int, inodes: set[str]) -> bool:
    try:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:[") and target[8:-1] in inodes:
                return True
    except OSError:
        pass
    return False


def rss_bytes(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process, in seconds."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def python_version() -> str:
    return sys.version.split()[0]
