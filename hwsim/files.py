"""Writing output files so that a failure never leaves a half-written one, and nothing else is touched.

Every command writes through these. The data goes to a new temporary file beside its target,
created exclusively (``O_CREAT | O_EXCL | O_NOFOLLOW``) under an unpredictable name, so a file
or link planted at a guessable name is never opened; it is written, fsync'ed and renamed over
the target. An OS error becomes a one-line :class:`UserError` naming the path, and no
temporary file is left behind.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from hwsim.errors import UserError

_TEMP_FLAGS = (os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
               | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0))
_TEMP_ATTEMPTS = 100


def _cannot(action: str, err: OSError, where: Path) -> UserError:
    return UserError(f"cannot {action}: {err.strerror or err}", str(where))


def _discard(path: Path) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def _write_temp(target: Path, data: str | bytes) -> Path:
    """A new, fsync'ed temporary file holding ``data`` beside ``target``; on failure, none is left."""
    for _ in range(_TEMP_ATTEMPTS):
        temp = target.with_name(f".{target.name[:100]}.{secrets.token_hex(8)}.tmp")
        try:
            fd = os.open(temp, _TEMP_FLAGS, 0o666)  # 0o666: the umask applies, as to a plain open
        except FileExistsError:
            continue
        try:
            with open(fd, "wb") as f:
                f.write(data.encode("utf-8") if isinstance(data, str) else data)
                f.flush()
                os.fsync(f.fileno())
        except BaseException:
            _discard(temp)
            raise
        return temp
    raise OSError(f"no unused temporary name after {_TEMP_ATTEMPTS} tries")


def write_atomic(path: str | os.PathLike, data: str | bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename (see the module docstring)."""
    path = Path(path)
    try:
        temp = _write_temp(path, data)
    except OSError as err:
        raise _cannot("write", err, path) from None
    try:
        os.replace(temp, path)
    except BaseException as err:
        _discard(temp)
        if isinstance(err, OSError):
            raise _cannot("write", err, path) from None
        raise


def _make_directory(directory: Path) -> bool:
    """Create ``directory`` (and its parents) unless it exists; True if this call created it."""
    if directory.is_dir():
        return False
    try:
        directory.mkdir(parents=True)
    except OSError as err:
        raise _cannot("create the output directory", err, directory) from None
    return True


def _write_all(directory: Path, files: dict[str, str | bytes], written: dict[str, Path]) -> None:
    """Every file to a temporary name, then each renamed into place; ``written`` says where each is."""
    for name, data in files.items():
        written[name] = _write_temp(directory / name, data)
    for name in files:
        os.replace(written[name], directory / name)
        written[name] = directory / name


def write_files(directory: str | os.PathLike, files: dict[str, str | bytes]) -> None:
    """Write every file into ``directory`` or none (see the module docstring).

    On a failure, the temporaries and any file already renamed into place are removed, and so
    is the directory if this call created it. (A file of the same name that an already renamed
    one replaced is not brought back: renames within one directory fail only in a race.)
    """
    directory = Path(directory)
    created, written = _make_directory(directory), {}
    try:
        _write_all(directory, files, written)
    except BaseException as err:
        for path in written.values():
            _discard(path)
        if created:
            with contextlib.suppress(OSError):
                directory.rmdir()
        if isinstance(err, OSError):
            raise _cannot("write", err, directory) from None
        raise
