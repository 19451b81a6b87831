"""Command-line administration and running the product for real.

    python -m rxapp.cli serve                  check the configuration, migrate, then run Reflex in production
    python -m rxapp.cli check-config           print every configuration problem, or "configuration OK"
    python -m rxapp.cli build                  build the pages once, at install or image build time
    python -m rxapp.cli create-user NAME --role officer --collar "PC 4127" --team "Middlesbrough CID"
    python -m rxapp.cli set-password NAME      (ends every session of the account)
    python -m rxapp.cli disable-user NAME      (ends every session; enable-user NAME lets it sign in again)
    python -m rxapp.cli migrate
    python -m rxapp.cli --env-file /etc/victim-journey/env COMMAND ...   (the service's configuration)

Passwords are read from a prompt (or `--password-stdin`), never from the command line, so they do not
land in shell history or process lists. Configuration problems exit with status 2, before anything starts.
"""
from __future__ import annotations

import argparse
import getpass
import os
import shutil
import sys

from rxapp.plumbing.config import ROOT, check, serve_environment, settings, use_env_file

CONFIG_PROBLEM = 2


def _read_password(args) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise ValueError("the two passwords differ")
    return first


def _force_identity(collar: str, team: str) -> tuple[str | None, str | None]:
    """The collar number and team(s) as given, tidied; ValueError when too long or not printable."""
    collar = " ".join((collar or "").split())
    team = "; ".join(" ".join(part.split()) for part in (team or "").split(";") if part.strip())
    for label, value, limit in (("--collar", collar, 40), ("--team", team, 200)):
        if len(value) > limit or not value.isprintable():
            raise ValueError(f"{label} must be at most {limit} printable characters")
    return collar or None, team or None


def _print_problems(headline: str, problems: list[str]) -> None:
    print(headline, file=sys.stderr)
    for problem in problems:
        print(f"  - {problem}", file=sys.stderr)
    print("See deploy/env.example and the README's \"Configuration\" and \"Running it for real\".", file=sys.stderr)


def _check_config(args) -> int:
    if _refused(check(production=not args.development), "The configuration has {count}:"):
        return CONFIG_PROBLEM
    print("configuration OK" + (" (well formed; `serve` needs more)" if args.development else ""))
    return 0


def _reflex_and_environment() -> tuple[str | None, dict[str, str]]:
    """Reflex, and the environment to run it in; None (after saying why) when it or bun is missing."""
    env = serve_environment()
    reflex = shutil.which("reflex", path=env["PATH"])
    if reflex is None:
        print("error: reflex is not installed: pip install -r requirements.txt -c constraints.txt", file=sys.stderr)
    elif shutil.which("bun", path=env["PATH"]) is None:
        print("error: bun is not installed (Reflex builds the pages with it): "
              "npm install --prefix .tools bun@1.4.5", file=sys.stderr)
        reflex = None
    return reflex, env


def _refused(problems: list[str], heading: str) -> bool:
    """Print the configuration's problems under `heading` (with "{count}" in it); True when there are any."""
    if problems:
        count = "1 problem" if len(problems) == 1 else f"{len(problems)} problems"
        _print_problems(heading.format(count=count), problems)
    return bool(problems)


def _build(args) -> int:
    """Initialise Reflex's .web folder and fetch the pages' packages (from the npm registry) once, where the
    network is in reach: at install or image build time. A start-up after it rebuilds from what this fetched
    and writes only in .web, .states and reflex.lock, so the rest of the checkout can be read-only."""
    if _refused(check(production=False), "The configuration has {count}:"):
        return CONFIG_PROBLEM
    reflex, env = _reflex_and_environment()
    if reflex is None:
        return CONFIG_PROBLEM
    os.chdir(ROOT)
    sys.stderr.flush()
    os.execve(reflex, [reflex, "export", "--frontend-only", "--no-zip", "--env", "prod"], env)
    return 0  # not reached


def _serve(args) -> int:
    """Refuse before anything starts when the configuration is not fit to run for real; otherwise migrate
    and replace this process with `reflex run --env prod`, so a supervisor (systemd, the container runtime)
    sees and signals Reflex itself."""
    if _refused(check(production=True), "Victim Journey will not start: the configuration has {count}:"):
        return CONFIG_PROBLEM
    reflex, env = _reflex_and_environment()
    if reflex is None:
        return CONFIG_PROBLEM
    cfg = settings()
    host = args.host or cfg.listen_host
    port = args.port or cfg.listen_port

    from sqlmodel import select

    from rxapp.plumbing.db import migrate, session_scope
    from rxapp.staff.models import StaffUser

    migrate()
    with session_scope(readonly=True) as session:
        has_staff = session.exec(select(StaffUser.id).limit(1)).first() is not None
    if not has_staff:
        print("No staff accounts yet: create one with "
              "python -m rxapp.cli create-user NAME --role admin", file=sys.stderr)
    print(f"Database up to date. Starting Victim Journey on {host}:{port} for {cfg.public_base_url}", flush=True)
    command = [reflex, "run", "--env", "prod", "--single-port", "--backend-host", host, "--backend-port", str(port)]
    os.chdir(ROOT)
    sys.stderr.flush()
    os.execve(reflex, command, env)
    return 0  # not reached


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rxapp.cli", description="Victim Journey administration")
    parser.add_argument("--env-file", metavar="PATH",
                        help="read the configuration from this file too (as systemd does), "
                             "e.g. /etc/victim-journey/env")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("serve", help="check the configuration, migrate the database, run the product for real")
    p.add_argument("--host", help="address to listen on (default LISTEN_HOST, 127.0.0.1)")
    p.add_argument("--port", type=int, help="port to listen on (default LISTEN_PORT, 3000)")
    p = sub.add_parser("check-config", help="print every configuration problem, or 'configuration OK'")
    p.add_argument("--development", action="store_true",
                   help="only check that each value is well formed (what the demo and the tests need)")
    sub.add_parser("build", help="build the pages once, at install or image build time (needs the npm registry)")
    p = sub.add_parser("create-user", help="create a staff account")
    p.add_argument("username")
    p.add_argument("--role", required=True, help="fcr, officer, supervisor or admin")
    p.add_argument("--name", default="", help="display name")
    p.add_argument("--collar", default="", help='collar number, as the records system gives the officer in charge '
                   '(e.g. "PC 4127"): an officer sees the cases they are in charge of')
    p.add_argument("--team", default="", help='team, as the records system names it (e.g. "Hartlepool Safeguarding"; '
                   'several separated by ";"): officers and supervisors see their team\'s cases')
    p.add_argument("--password-stdin", action="store_true")
    p = sub.add_parser("set-password", help="reset a staff password, clear any lock-out, end every session")
    p.add_argument("username")
    p.add_argument("--password-stdin", action="store_true")
    for name, what in (("disable-user", "stop a staff account signing in and end every session it has"),
                       ("enable-user", "let a disabled staff account sign in again")):
        sub.add_parser(name, help=what).add_argument("username")
    sub.add_parser("migrate", help="bring the database schema up to date")
    args = parser.parse_args(argv)
    if args.env_file:
        try:
            use_env_file(args.env_file)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return CONFIG_PROBLEM
    if args.command == "check-config":
        return _check_config(args)
    if args.command == "build":
        return _build(args)
    if args.command == "serve":
        if args.port is not None and not 1 <= args.port <= 65535:
            parser.error("--port must be between 1 and 65535")
        return _serve(args)
    try:
        # Imported here, not at the top: check-config and serve's refusal need neither the database nor the
        # tables, so a broken configuration is reported without them.
        from rxapp.plumbing.db import migrate, session_scope
        from rxapp.staff.accounts import ROLES, create_user, set_active, set_password

        if args.command == "create-user" and args.role not in ROLES:
            parser.error(f"argument --role: invalid choice: {args.role!r} (choose from {', '.join(ROLES)})")
        if args.command == "create-user":
            collar, team = _force_identity(args.collar, args.team)
        migrate()
        if args.command == "create-user":
            password = _read_password(args)
            with session_scope() as session:
                user = create_user(session, args.username, password, args.role, args.name)
                user.collar_number, user.team = collar, team
            print(f"Created {args.role} account {args.username.lower()}"
                  + "".join(f", {label} {value}" for label, value in (("collar", collar), ("team", team)) if value)
                  + ".")
        elif args.command == "set-password":
            password = _read_password(args)
            with session_scope() as session:
                set_password(session, args.username, password)
            print(f"Password changed for {args.username.lower()}; every session it had has ended.")
        elif args.command in ("disable-user", "enable-user"):
            with session_scope() as session:
                set_active(session, args.username, args.command == "enable-user")
            print(f"{args.username.lower()} " + ("can sign in again." if args.command == "enable-user"
                                                 else "is disabled; every session it had has ended."))
        elif args.command == "migrate":
            print("Database is up to date.")
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return CONFIG_PROBLEM
    return 0


if __name__ == "__main__":
    sys.exit(main())
