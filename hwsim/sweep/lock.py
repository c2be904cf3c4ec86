"""One writer per sweep directory: an advisory lock on ``DIR/sweep.lock`` while a sweep writes.

Two sweeps into one directory would lose each other's progress and mix their files; the
second one to start is refused at once with a UserError. The lock is the kernel's
(``flock``): it goes away with the process that holds it, however that process ends, so a
killed sweep never leaves a stale lock behind (the file stays; only its lock matters). The
file is opened without following a symbolic link. Where ``fcntl`` does not exist (Windows)
nothing is locked.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Iterator

from hwsim.errors import UserError

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None

LOCK_FILE = "sweep.lock"


@contextlib.contextmanager
def directory_lock(directory: Path) -> Iterator[None]:
    """Hold the lock of ``directory`` (which exists) for the duration, or raise a UserError."""
    path = directory / LOCK_FILE
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags, 0o666)
    except OSError as err:
        raise UserError(f"cannot lock: {err.strerror or err}", str(path)) from None
    try:
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise UserError("another hwsim sweep is writing into this directory; wait for it to "
                                "finish, or use another -o DIR", str(directory)) from None
        yield
    finally:
        os.close(fd)
