"""User-facing errors.

Every mistake a user can make (a bad file, a bad field, a bad argument) is raised as a
:class:`UserError`. The CLI prints it as one line, ``hwsim: error: <where>: <what>``, and
exits non-zero; it never shows a traceback for one.
"""

from __future__ import annotations


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
