"""What a sweep keeps as it goes: ``progress.jsonl`` and the atomic final files (the progress
bar is ``hwsim.progress``).

``DIR/progress.jsonl`` gets one JSON line per finished unit of work (a point, or a zero-spill
search) as soon as it finishes, flushed and fsync'ed, so an interrupted sweep keeps what it
did: ``{"kind": "point" | "zero_spill", "result": {...}, "tag": "<key>"}``. On ``--resume`` the
lines are read back (a last line cut by the interruption is dropped, and so is a record the
driver finds malformed: that work runs again) and only the missing work runs.
``DIR/sweep.json`` records what the sweep is (hwsim version, spec, axes, and a digest of
each graph); resuming into a directory of another sweep is refused, and so is resuming from
a ``sweep.json`` that cannot be read. (Results of an edited hwsim with the same version
number are taken as they are: start afresh after a change.) A progress line that cannot be
written (the disk is full) stops the sweep with a UserError; what was written is kept.

Final files (``results.csv``, ``summary.json``) are written to a temporary name and renamed,
so a reader never sees half of one.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import IO, Any

from hwsim.errors import UserError
from hwsim.files import write_atomic
from hwsim.progress import ProgressBar

__all__ = ["MANIFEST_FILE", "PROGRESS_FILE", "ProgressBar", "ProgressLog", "check_manifest", "json_text",
           "read_progress", "write_atomic"]

PROGRESS_FILE = "progress.jsonl"
MANIFEST_FILE = "sweep.json"


def json_text(data: Any) -> str:
    """Deterministic JSON: sorted keys, one-space indent, trailing newline."""
    return json.dumps(data, sort_keys=True, indent=1) + "\n"


def read_progress(path: Path) -> dict[str, dict]:
    """Records of a progress file by tag; unreadable lines (a cut last line) are dropped."""
    records: dict[str, dict] = {}
    if not path.exists():
        return records
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and isinstance(record.get("tag"), str) and "result" in record:
            records[record["tag"]] = record
    return records


def check_manifest(directory: Path, manifest: dict, resume: bool) -> None:
    """On resume, refuse a directory holding another sweep; then record this one."""
    path = directory / MANIFEST_FILE
    if resume and path.exists():
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError):
            raise UserError(f"{MANIFEST_FILE} cannot be read (cut short, or edited?), so this sweep cannot "
                            "be resumed; run without --resume to start over", str(directory)) from None
        if old != manifest:
            changed = sorted(k for k in manifest if not isinstance(old, dict) or old.get(k) != manifest[k])
            raise UserError(f"holds another sweep (different {', '.join(changed) or 'file'}); "
                            "use a new -o DIR, or run without --resume to start over", str(directory))
    write_atomic(path, json_text(manifest))


class ProgressLog:
    """``progress.jsonl`` opened for appending; use as a context manager."""

    def __init__(self, path: Path):
        self.path = path
        self._file: IO[str] | None = None

    def open(self, kept: dict[str, dict]) -> "ProgressLog":
        """Start the file afresh holding only ``kept`` records, then append to it."""
        write_atomic(self.path, "".join(json.dumps(r, sort_keys=True) + "\n" for r in kept.values()))
        flags = os.O_WRONLY | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
        try:
            self._file = open(os.open(self.path, flags), "a", encoding="utf-8")
        except OSError as err:
            raise UserError(f"cannot write: {err.strerror or err}", str(self.path)) from None
        return self

    def append(self, kind: str, tag: str, result: dict) -> None:
        assert self._file is not None, "ProgressLog.append before open"
        try:
            self._file.write(json.dumps({"kind": kind, "result": result, "tag": tag}, sort_keys=True) + "\n")
            self._file.flush()
            os.fsync(self._file.fileno())
        except OSError as err:
            raise UserError(f"cannot write: {err.strerror or err}; the results written before are kept: "
                            "make room, then rerun with --resume", str(self.path)) from None

    def __enter__(self) -> "ProgressLog":
        return self

    def __exit__(self, *exc) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):  # a full disk: the error that stopped the sweep is reported
                self._file.close()
            self._file = None
