"""``orthanc-rem user``: the dose browser's users from the command line (add, list, change, remove,
logout).

Sites script their accounts (issue 7); a password never goes on the command line, where ``ps``
and the shell history would show it: ``--password-stdin`` reads one line, otherwise the command
asks twice on the terminal.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable
from typing import Any

from orthanc_rem import users


def register(command: Callable[..., Any], global_options: Callable[..., None]) -> None:
    """Add ``user`` and its actions to the parser; ``command`` is cli.build_parser's helper."""
    user = command("user", command_user, "manage the dose browser's users and their groups")
    actions = user.add_subparsers(dest="user_action", required=True, metavar="ACTION")
    groups_help = f"comma-separated, from: {','.join(users.GROUPS)} (admin does not imply the others)"

    def action(name: str, summary: str) -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = actions.add_parser(name, help=summary, description=summary + ".")
        global_options(sub, on_sub_command=True)
        return sub

    add = action("add", "add a user")
    add.add_argument("name")
    add.add_argument("--groups", default="", help=groups_help)
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    action("list", "list users, their groups, state and last login")
    change = action("change", "change a user's groups, password or state")
    change.add_argument("name")
    change.add_argument("--groups", help=groups_help + "; replaces the user's groups")
    change.add_argument("--password-stdin", action="store_true", help="read a new password from standard input")
    state = change.add_mutually_exclusive_group()
    state.add_argument("--active", dest="active", action="store_true", default=None, help="allow logging in")
    state.add_argument("--inactive", dest="active", action="store_false", help="refuse logging in, keep the user")
    remove = action("remove", "remove a user")
    remove.add_argument("name")
    logout = action("logout", "end every login session of a user now (a stolen cookie, a lost laptop)")
    logout.add_argument("name")


def read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Password again: ") != first:
        raise users.UserError("the two passwords differ")
    return first


def command_user(args: argparse.Namespace, service: Any) -> int:
    from orthanc_rem.cli import open_database

    sessions = open_database(service.settings, create=args.user_action == "add")
    try:
        with sessions() as session:
            if args.user_action == "list":
                print_users(users.list_users(session))
                return 0
            if args.user_action == "add":
                users.add_user(session, args.name, read_password(args.password_stdin), users.parse_groups(args.groups))
                done = f"added user {args.name.strip()}"
            elif args.user_action == "change":
                password = read_password(True) if args.password_stdin else None
                groups = None if args.groups is None else users.parse_groups(args.groups)
                users.change_user(session, args.name, groups=groups, password=password, active=args.active)
                done = f"changed user {args.name.strip()}"
            elif args.user_action == "logout":
                ended = users.end_sessions(session, args.name)
                done = f"ended {ended} session(s) of user {args.name.strip()}"
            else:
                users.remove_user(session, args.name)
                done = f"removed user {args.name.strip()}"
            session.commit()
    except users.UserError as exc:
        print(f"orthanc-rem: {exc}", file=sys.stderr)
        return 1
    print(done)
    return 0


def print_users(rows: list[Any]) -> None:
    if not rows:
        print("no users (add one with: orthanc-rem user add NAME --groups view --password-stdin)")
        return
    print("name\tgroups\tactive\tlast login")
    for user in rows:
        last = user.last_login.isoformat(timespec="seconds") if user.last_login else "never"
        print(f"{user.name}\t{user.groups or '-'}\t{'yes' if user.active else 'no'}\t{last}")
