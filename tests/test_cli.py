"""`python -m rxapp.cli check-config` and `serve`, run as a force would run them: in a subprocess, with only
the environment given. `serve` must refuse a configuration unfit to run for real before it touches the
database or starts Reflex; given a good one, it migrates and hands over to `reflex run --env prod`.

Reflex itself is a stand-in script here (a real start builds the frontend for minutes): it records the
arguments and environment it was given."""
from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
import sys

import pytest

from integrations.govuk_notify.simulator import DEFAULT_EMAIL_TEMPLATE_ID, DEFAULT_SMS_TEMPLATE_ID, DEMO_API_KEY

from .conftest import ROOT

SECRET = "cli-test-secret-never-printed-0123456789abcdef"
CALLBACK = "cli-test-callback-token-never-printed-012345"

FAKE_REFLEX = """#!{python}
import json, os, sys
with open({record!r}, "w") as out:
    json.dump({{"argv": sys.argv[1:], "cwd": os.getcwd(), "env": dict(os.environ)}}, out)
"""


@pytest.fixture
def box(tmp_path):
    """A fresh data folder and a bin folder holding stand-ins for reflex and bun."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    record = tmp_path / "reflex-ran.json"
    for name, text in (("reflex", FAKE_REFLEX.format(python=sys.executable, record=str(record))),
                       ("bun", "#!/bin/sh\nexit 0\n")):
        path = bin_dir / name
        path.write_text(text)
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return {"tmp": tmp_path, "bin": bin_dir, "record": record, "data": tmp_path / "data",
            "db": tmp_path / "data" / "vj.db"}


def production_env(box, **overrides) -> dict[str, str]:
    env = {
        "PATH": f"{box['bin']}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONPATH": str(ROOT),
        "HOME": str(box["tmp"]),
        "VJ_DATA_DIR": str(box["data"]),
        "DATABASE_URL": f"sqlite:///{box['db']}",
        "SECRET_KEY": SECRET,
        "PUBLIC_BASE_URL": "https://victims.force.police.uk",
        "COOKIE_SECURE": "true",
        "NOTIFY_API_KEY": DEMO_API_KEY,
        "NOTIFY_SMS_TEMPLATE_ID": DEFAULT_SMS_TEMPLATE_ID,
        "NOTIFY_EMAIL_TEMPLATE_ID": DEFAULT_EMAIL_TEMPLATE_ID,
        "NOTIFY_CALLBACK_TOKEN": CALLBACK,
        "STORM_FEED_URL": "wss://storm-gateway.force.local/feed",
        "NICHE_FEED_URL": "https://niche-adapter.force.local",
        "LISTEN_PORT": "3999",
    }
    env.update(overrides)
    return {k: v for k, v in env.items() if v is not None}


def cli(env, *args, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rxapp.cli", *args], env=env, cwd=cwd or env["HOME"],
                          capture_output=True, text=True, timeout=120)


def test_check_config_says_ok_for_a_complete_configuration(box):
    done = cli(production_env(box), "check-config")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "configuration OK"
    assert not box["data"].exists(), "checking writes nothing"


def test_check_config_lists_every_problem_and_exits_non_zero(box):
    env = production_env(box, SECRET_KEY=None, PUBLIC_BASE_URL="victims.force.police.uk", GRADE_TARGETS="{")
    done = cli(env, "check-config")
    assert done.returncode == 2
    assert "The configuration has 3 problems:" in done.stderr
    assert "  - SECRET_KEY is not set: running for real needs an explicit server secret" in done.stderr
    assert "  - PUBLIC_BASE_URL must be a URL starting with http:// or https://" in done.stderr
    assert "  - GRADE_TARGETS is not valid JSON" in done.stderr
    assert "configuration OK" not in done.stdout
    assert not (box["data"] / "secret.key").exists(), "a missing secret is refused, not generated"


def test_check_config_never_prints_a_secret(box):
    key = "team-key-00000000-0000-0000-0000-00000000000-bad"
    env = production_env(box, NOTIFY_API_KEY=key, NOTIFY_CALLBACK_TOKEN="short-but-secret",
                         SMTP_URL="smtpz://relay-user:relay-password@relay", SECRET_KEY="too-short-secret")
    done = cli(env, "check-config")
    assert done.returncode == 2
    for name in ("NOTIFY_API_KEY", "NOTIFY_CALLBACK_TOKEN", "SMTP_URL", "SECRET_KEY"):
        assert f"  - {name}" in done.stderr
    for secret in (key, "short-but-secret", "relay-password", "too-short-secret"):
        assert secret not in done.stderr + done.stdout


def test_check_config_for_development_checks_only_the_form(box):
    env = {k: v for k, v in production_env(box).items() if k in ("PATH", "PYTHONPATH", "HOME", "VJ_DATA_DIR")}
    done = cli(env, "check-config", "--development")
    assert done.returncode == 0 and done.stdout.startswith("configuration OK"), done.stderr
    assert cli(env, "check-config").returncode == 2


@pytest.mark.parametrize("overrides, expected", [
    ({"SECRET_KEY": None}, "SECRET_KEY is not set"),
    ({"PUBLIC_BASE_URL": "http://victims.force.local", "COOKIE_SECURE": "false"},
     "PUBLIC_BASE_URL must be an https:// address"),
    ({"COOKIE_SECURE": None}, "COOKIE_SECURE must be true when PUBLIC_BASE_URL is https"),
    ({"NOTIFY_API_KEY": None, "NOTIFY_SMS_TEMPLATE_ID": None, "NOTIFY_EMAIL_TEMPLATE_ID": None},
     "no way to send messages"),
    ({"NOTIFY_CALLBACK_TOKEN": None}, "NOTIFY_CALLBACK_TOKEN is not set"),
    ({"STORM_FEED_URL": None}, "STORM_FEED_URL is not set"),
    ({"NICHE_FEED_URL": None}, "NICHE_FEED_URL is not set"),
    ({"NOTIFY_SMS_TEMPLATE_ID": "not-a-uuid"}, "NOTIFY_SMS_TEMPLATE_ID must be the template's ID from Notify"),
    ({"STATUS_CODES": '{"9": "somewhere"}'}, "STATUS_CODES must be a JSON object mapping codes"),
    ({"DATABASE_URL": "mysql://vj@db/vj"}, "DATABASE_URL must start with sqlite:///"),
])
def test_serve_refuses_before_starting_anything(box, overrides, expected):
    done = cli(production_env(box, **overrides), "serve")
    assert done.returncode == 2
    assert "Victim Journey will not start: the configuration has 1 problem:" in done.stderr
    assert f"  - {expected}" in done.stderr, done.stderr
    assert not box["record"].exists(), "Reflex was started"
    assert not box["db"].exists(), "the database was touched"


def test_serve_migrates_then_becomes_reflex_in_production_mode(box):
    done = cli(production_env(box), "serve")
    assert done.returncode == 0, done.stderr
    ran = json.loads(box["record"].read_text())
    assert ran["argv"] == ["run", "--env", "prod", "--single-port", "--backend-host", "127.0.0.1",
                           "--backend-port", "3999"]
    assert ran["cwd"] == str(ROOT)
    assert ran["env"]["REFLEX_USE_SYSTEM_BUN"] == "1" and ran["env"]["TELEMETRY_ENABLED"] == "false"
    assert ran["env"]["PATH"].split(os.pathsep)[0] == str(ROOT / ".tools" / "node_modules" / ".bin")
    assert ran["env"]["PYTHONPATH"].split(os.pathsep)[0] == str(ROOT)
    with sqlite3.connect(box["db"]) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone()
        assert conn.execute("SELECT count(*) FROM staffuser").fetchone() == (0,), "no demo data"
    assert "No staff accounts yet: create one with python -m rxapp.cli create-user" in done.stderr
    assert "Starting Victim Journey on 127.0.0.1:3999 for https://victims.force.police.uk" in done.stdout
    assert SECRET not in done.stdout + done.stderr


def test_serve_takes_host_and_port_from_its_flags_and_plain_http_only_when_allowed(box):
    env = production_env(box, PUBLIC_BASE_URL="http://victims.force.local", COOKIE_SECURE="false",
                         ALLOW_INSECURE_HTTP="true", STORM_FEED_URL=None, STORM_FEED_DISABLED="true",
                         NICHE_FEED_URL=None, NICHE_FEED_DISABLED="true")
    done = cli(env, "serve", "--host", "0.0.0.0", "--port", "8080")
    assert done.returncode == 0, done.stderr
    argv = json.loads(box["record"].read_text())["argv"]
    assert argv[-4:] == ["--backend-host", "0.0.0.0", "--backend-port", "8080"]


def test_serve_refuses_without_bun(box, monkeypatch, capsys):
    from rxapp import cli as cli_module

    monkeypatch.setattr(cli_module, "check", lambda production: [])
    monkeypatch.setattr(cli_module, "serve_environment", lambda: {"PATH": str(box["bin"])})
    monkeypatch.setattr(cli_module.os, "execve", lambda *a: pytest.fail("Reflex was started"))
    (box["bin"] / "bun").unlink()
    assert cli_module.main(["serve"]) == 2
    assert "error: bun is not installed (Reflex builds the pages with it): npm install --prefix .tools bun@1.4.5" \
        in capsys.readouterr().err


def test_build_prepares_the_pages_with_the_same_environment_and_no_secret(box):
    env = {k: v for k, v in production_env(box).items() if k in ("PATH", "PYTHONPATH", "HOME", "VJ_DATA_DIR")}
    done = cli(env, "build")
    assert done.returncode == 0, done.stderr
    ran = json.loads(box["record"].read_text())
    assert ran["argv"] == ["export", "--frontend-only", "--no-zip", "--env", "prod"]
    assert ran["cwd"] == str(ROOT) and ran["env"]["REFLEX_USE_SYSTEM_BUN"] == "1"
    assert not box["data"].exists(), "an image build must not hold a generated secret or a database"


def test_other_commands_refuse_a_malformed_configuration(box):
    env = production_env(box, STAFF_LOCKOUT_ATTEMPTS="lots")
    done = subprocess.run([sys.executable, "-m", "rxapp.cli", "create-user", "jsmith", "--role", "fcr",
                           "--password-stdin"], input="a-long-enough-password\n", env=env, cwd=box["tmp"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "error: the configuration has 1 problem:\n  - STAFF_LOCKOUT_ATTEMPTS must be a whole number" in done.stderr


def test_env_file_is_read_as_systemd_reads_it(box):
    env_file = box["tmp"] / "env"
    env = production_env(box)
    lines = ["# the service's configuration", ""]
    lines += [f"{name}={value}" for name, value in env.items() if name not in ("PATH", "PYTHONPATH", "HOME")]
    lines += ['GRADE_TARGETS={"PRIORITY":45}', "STATUS_CODES='{\"9\": \"en_route\"}'"]
    env_file.write_text("\n".join(lines) + "\n")
    bare = {k: env[k] for k in ("PATH", "PYTHONPATH", "HOME")}
    assert cli(bare, "check-config").returncode == 2
    done = cli(bare, "--env-file", str(env_file), "check-config")
    assert done.returncode == 0 and done.stdout.strip() == "configuration OK", done.stderr
    done = subprocess.run([sys.executable, "-m", "rxapp.cli", "--env-file", str(env_file), "create-user", "jsmith",
                           "--role", "admin", "--password-stdin"], input="a-long-enough-password\n", env=bare,
                          cwd=box["tmp"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(box["db"]) as conn:
        assert conn.execute("SELECT username, role FROM staffuser").fetchall() == [("jsmith", "admin")]


def test_a_broken_env_file_is_named_by_its_line_not_its_value(box):
    env_file = box["tmp"] / "env"
    env_file.write_text(f"SECRET_KEY={SECRET}\nthis line holds {SECRET}\n")
    done = cli(production_env(box), "--env-file", str(env_file), "check-config")
    assert done.returncode == 2
    assert f"error: {env_file}, line 2: expected NAME=value" in done.stderr
    assert SECRET not in done.stderr
    done = cli(production_env(box), "--env-file", str(box["tmp"] / "missing"), "check-config")
    assert done.returncode == 2 and "cannot read the environment file" in done.stderr
