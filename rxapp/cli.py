"""Command-line administration: `python -m rxapp.cli create-user NAME --role fcr` and friends.

Passwords are read from a prompt (or `--password-stdin`), never from the command line, so they do not
land in shell history or process lists.
"""
from __future__ import annotations

import argparse
import getpass
import sys

from rxapp.staff.accounts import ROLES, create_user, set_password
from rxapp.plumbing.db import migrate, session_scope


def _read_password(args) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise ValueError("the two passwords differ")
    return first


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rxapp.cli", description="Victim Journey administration")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("create-user", help="create a staff account")
    p.add_argument("username")
    p.add_argument("--role", required=True, choices=ROLES)
    p.add_argument("--name", default="", help="display name")
    p.add_argument("--password-stdin", action="store_true")
    p = sub.add_parser("set-password", help="reset a staff password and clear any lock-out")
    p.add_argument("username")
    p.add_argument("--password-stdin", action="store_true")
    sub.add_parser("migrate", help="bring the database schema up to date")
    args = parser.parse_args(argv)
    try:
        migrate()
        if args.command == "create-user":
            password = _read_password(args)
            with session_scope() as session:
                create_user(session, args.username, password, args.role, args.name)
            print(f"Created {args.role} account {args.username.lower()}.")
        elif args.command == "set-password":
            password = _read_password(args)
            with session_scope() as session:
                set_password(session, args.username, password)
            print(f"Password changed for {args.username.lower()}.")
        elif args.command == "migrate":
            print("Database is up to date.")
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
