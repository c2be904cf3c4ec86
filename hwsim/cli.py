"""The ``hwsim`` command line: one module per command under ``hwsim/commands``.

A user error anywhere prints ``hwsim: error: <where>: <what>`` on one line and exits
with status 2; no traceback, no half-written output. The line is one line whatever the
user's files and arguments hold: unprintable characters (a newline or an ANSI escape in a
file name) are printed escaped (``\n``, ``\x1b``), so no input can forge an error line.
Results go to standard output, which must be open (a closed one is an error before any
work; a full one, an error when written).
"""

from __future__ import annotations

import argparse
import importlib
import sys

from hwsim import __version__
from hwsim.errors import UserError, one_line

COMMANDS = ("extract", "info", "run", "check", "sweep", "compare")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse's own usage errors: same one-line form
        command = self.prog.removeprefix("hwsim").strip()
        raise UserError(message, command or None)


def _available() -> list:
    found = []
    for name in COMMANDS:
        try:
            found.append(importlib.import_module(f"hwsim.commands.{name}"))
        except ModuleNotFoundError as exc:
            if exc.name != f"hwsim.commands.{name}":
                raise
    return found


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="hwsim", description="What a network's data does to an accelerator's on-chip memory.")
    parser.add_argument("--version", action="version", version=f"hwsim {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for module in _available():
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        if sys.stdout is None:  # started with standard output closed (>&-)
            raise UserError("is closed; hwsim prints its results there (redirect it to a file or /dev/null)",
                            "standard output")
        args = build_parser().parse_args(argv)
        return int(args.handler(args) or 0)
    except UserError as exc:
        print(f"hwsim: error: {one_line(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("hwsim: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1
