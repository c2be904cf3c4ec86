"""User-facing errors.

Every mistake a user can make (a bad file, a bad field, a bad argument) is raised as a
:class:`UserError`. The CLI prints it as one line, ``hwsim: error: <where>: <what>``, and
exits non-zero; it never shows a traceback for one.
"""

from __future__ import annotations

import unicodedata

MAX_NAME = 1024
_UNPRINTABLE = ("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn")
"""Unicode categories of characters no name may hold: controls (newline, escape), invisible
and bidirectional formatting, line and paragraph separators, surrogates, private use, unassigned."""


class UserError(Exception):
    """A problem with the user's input, reported without a traceback.

    ``where`` names the file and field (``graphs/x.json: $.ops[3].inputs[0]``), ``what``
    says what is wrong. Several problems found at once are joined with ``; ``.
    """

    def __init__(self, what: str, where: str | None = None):
        self.what = what
        self.where = where
        super().__init__(f"{where}: {what}" if where else what)


def collect(problems: list[str], where: str | None = None) -> None:
    """Raise one UserError listing every problem, if there are any."""
    if problems:
        raise UserError("; ".join(problems), where)


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot name anything in hwsim, or None if it can.

    Names (of a graph, tensor, op, layer, module, accelerator) are printed in reports and
    in error lines, so they hold at most MAX_NAME characters and no character of
    ``_UNPRINTABLE``: a newline or an ANSI escape in a name could forge a line of output.
    """
    if len(name) > MAX_NAME:
        return f"a name of more than {MAX_NAME} characters"
    bad = next((c for c in name if unicodedata.category(c) in _UNPRINTABLE), None)
    if bad is not None:
        return f"holds the unprintable character U+{ord(bad):04X}"
    return None


def one_line(text: str) -> str:
    """``text`` with every unprintable character escaped (``\\n``, ``\\x1b``, ``\\u202e``), so that
    whatever a user's file or argument holds, an error message stays one honest line."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
