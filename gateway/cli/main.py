"""``gateway`` command: builds Settings once and dispatches to the subcommand modules."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Sequence
from types import ModuleType

from pydantic import ValidationError
from pydantic_settings import SettingsError

from gateway import __version__
from gateway.config import Settings, secret_values
from gateway.errors import GatewayError
from gateway.observability import configure_logging

#: Each subcommand and the module that registers and runs it, in the order of ``gateway --help``. A command
#: line that names one imports only its module: ``gateway serve`` and ``gateway worker`` do not load the
#: benchmarks, the demo or the development network (≈ 2.4 MiB of modules in every such process; README,
#: *Memory, seventh pass*). Without a known name (``--help``, a typo) every module is registered.
SUBCOMMANDS: dict[str, str] = {
    name: f"gateway.cli.{name}"
    for name in (
        "validate",
        "convert",
        "render",
        "artefacts",
        "serve",
        "worker",
        "demo",
        "as4",
        "certs",
        "bench",
        "devnet",
        "units",
        "reporting",
        "users",
        "archive",
        "inbound",
    )
}


def subcommand_modules(argv: Sequence[str] | None = None) -> tuple[ModuleType, ...]:
    """The modules to register for this command line: the named subcommand's, or all of them."""
    args = sys.argv[1:] if argv is None else argv
    names = [args[0]] if args and args[0] in SUBCOMMANDS else list(SUBCOMMANDS)
    return tuple(importlib.import_module(SUBCOMMANDS[name]) for name in names)


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The CLI's parser for ``argv`` (default ``sys.argv[1:]``; see ``subcommand_modules``)."""
    parser = argparse.ArgumentParser(
        prog="gateway", description="Peppol access-point gateway of the cooperative."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in subcommand_modules(argv):
        module.register(subparsers)
    return parser


def settings_errors(error: ValidationError) -> str:
    """One line per problem, ``location: message``, without the rejected values: pydantic's own rendering
    repeats each input, which may be a secret (an API key, a password, a webhook URL with a token)."""
    return "\n".join(
        f"  {'.'.join(str(part) for part in problem['loc']) or 'settings'}: {problem['msg']}"
        for problem in error.errors(include_input=False, include_url=False, include_context=False)
    )


def settings_parse_error(error: SettingsError) -> str:
    """pydantic-settings could not read a variable at all (JSON that does not parse, in ``GATEWAY_API__KEYS``
    or a group given whole): its message names the field; where the JSON breaks is added, never the text,
    which may hold a secret."""
    cause = error.__cause__
    if isinstance(cause, json.JSONDecodeError):
        return f"  {error}: not JSON ({cause.msg} at line {cause.lineno}, column {cause.colno})"
    return f"  {error}"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit code (0 ok, 1 negative verdict, 2 usage or input error)."""
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as exc:
        print(f"gateway: invalid settings:\n{settings_errors(exc)}", file=sys.stderr)
        return 2
    except SettingsError as exc:
        print(f"gateway: invalid settings:\n{settings_parse_error(exc)}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, json=settings.log_format == "json", secrets=secret_values(settings))
    try:
        code: int = args.func(args, settings)
    except GatewayError as exc:
        print(f"gateway: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
