"""``gateway users add NAME --role support|admin|member [--unit CODE ...]`` and ``gateway users list``:
the people who log in to the pages (``/web``). The password is prompted, or read from standard input."""

from __future__ import annotations

import argparse
import getpass
import json
import sys

from gateway.bootstrap import SystemClock, build_store
from gateway.config import Role, Settings
from gateway.errors import ConfigurationError
from gateway.store.people import SQLPeopleStore
from gateway.store.sql import SQLDocumentStore
from gateway.web.accounts import AccountError, save_account
from gateway.web.people import PERSON_ROLES


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``users`` subcommand."""
    p = subparsers.add_parser(
        "users",
        help="people who log in to the pages (/web)",
        description="Create or replace a person's account (argon2id password hash), or list the accounts.",
    )
    actions = p.add_subparsers(dest="users_command", metavar="ACTION", required=True)
    add = actions.add_parser("add", help="create or replace an account (password prompted or from stdin)")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=[r.value for r in PERSON_ROLES])
    add.add_argument("--unit", action="append", default=[], metavar="CODE", help="a member's unit (repeat)")
    add.add_argument(
        "--password-stdin", action="store_true", help="read the password from the first line of stdin"
    )
    add.set_defaults(func=run_add)
    show = actions.add_parser("list", help="print the accounts as JSON lines (never the hashes)")
    show.set_defaults(func=run_list)


def _password(from_stdin: bool) -> str:
    if from_stdin or not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise ConfigurationError("the two passwords differ")
    return first


def _people(settings: Settings) -> tuple[SQLDocumentStore, SQLPeopleStore]:
    store = build_store(settings)
    assert isinstance(store, SQLDocumentStore)
    return store, SQLPeopleStore(store.engine)


def run_add(args: argparse.Namespace, settings: Settings) -> int:
    password = _password(args.password_stdin)
    store, people = _people(settings)
    try:
        created = save_account(people, args.name, Role(args.role), args.unit, password, clock=SystemClock())
    except AccountError as exc:
        raise ConfigurationError(f"account {args.name!r}: {exc}") from exc
    finally:
        store.close()
    print(f"account {args.name!r} {'created' if created else 'replaced'} ({args.role})")
    return 0


def run_list(args: argparse.Namespace, settings: Settings) -> int:
    store, people = _people(settings)
    try:
        for person in people.list_people():
            line = {"name": person.name, "role": person.role, "units": sorted(person.units)}
            print(json.dumps({**line, "active": person.active}, ensure_ascii=False))
    finally:
        store.close()
    return 0
