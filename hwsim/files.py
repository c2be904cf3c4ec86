"""Writing output files so that a failure never leaves a half-written one, and nothing else is touched.

Every command writes through these. The data goes to a new temporary file beside its target,
created exclusively (``O_CREAT | O_EXCL | O_NOFOLLOW``) under an unpredictable name, so a file
or link planted at a guessable name is never opened; it is written, fsync'ed and renamed over
the target. An OS error becomes a one-line :class:`UserError` naming the path, and no
temporary file is left behind.

Only regular files are replaced. A target that is a directory, a character or block device
(``/dev/null``), a FIFO or a socket is refused before anything is written. A target that is a
symbolic link is replaced by the rename, like any atomic writer does: the link becomes a
regular file and the file it pointed to is neither opened nor changed (a planted link cannot
redirect the write). A link to a directory, device, FIFO or socket is refused like one, so
``--trace /dev/stdout`` is an error rather than a replaced link in ``/dev``.

:func:`check_target` and :func:`check_directory` make these checks without writing; a command
with several outputs runs them on all of its targets first, so that it writes nothing when
any one of them would fail.

Input files are read with :func:`read_text`, which takes regular files only: it opens
without blocking and checks the opened file, so a FIFO given as a spec or a graph is refused
at once instead of waiting forever for a writer, and ``/dev/zero`` is never read.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
import sys
from pathlib import Path
from typing import Iterable

from hwsim.errors import UserError

_NOT_REGULAR = ((stat.S_ISDIR, "a directory"), (stat.S_ISCHR, "a character device"),
                (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"))
_TEMP_FLAGS = (os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
               | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0))
_TEMP_ATTEMPTS = 100


def _cannot(action: str, err: OSError, where: Path) -> UserError:
    return UserError(f"cannot {action}: {err.strerror or err}", str(where))


def _mode(path: Path, follow: bool) -> int | None:
    """The file type and mode bits of ``path``; None if nothing is there."""
    try:
        return os.stat(path, follow_symlinks=follow).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as err:
        raise _cannot("write", err, path) from None


def _not_regular(mode: int | None) -> str | None:
    return next((kind for test, kind in _NOT_REGULAR if mode is not None and test(mode)), None)


def _check_replaceable(path: Path) -> None:
    """Refuse a target that is not a regular file, a symbolic link to one, or absent."""
    mode, link = _mode(path, follow=False), ""
    if mode is not None and stat.S_ISLNK(mode):
        mode, link = _mode(path, follow=True), "a symbolic link to "
    kind = _not_regular(mode)
    if kind:
        raise UserError(f"is {link}{kind}; hwsim writes regular files only", str(path))


def check_target(path: str | os.PathLike) -> None:
    """Raise UserError unless ``path`` can be written: its directory exists, it is no special file."""
    path = Path(path)
    parent = _mode(path.parent, follow=True)
    if parent is None or not stat.S_ISDIR(parent):
        problem = "no such directory" if parent is None else "not a directory"
        raise UserError(f"cannot write: {problem}: {path.parent}", str(path))
    _check_replaceable(path)


def check_directory(directory: str | os.PathLike, names: Iterable[str] = ()) -> None:
    """Raise UserError unless ``directory`` is or can become a directory holding files ``names``."""
    directory = Path(directory)
    existing = directory
    while (mode := _mode(existing, follow=True)) is None and existing != existing.parent:
        existing = existing.parent
    if mode is None or not stat.S_ISDIR(mode):
        problem = "is not a directory" if existing == directory else f"{existing} is not a directory"
        raise UserError(problem, str(directory))
    if existing == directory:
        for name in names:
            _check_replaceable(directory / name)


def read_text(path: str | os.PathLike, what: str) -> str:
    """The UTF-8 text of the regular file ``path``; anything else is a UserError naming it.

    ``what`` says what the file should be (``"a graph file (JSON)"``) in the message for a
    directory, device, FIFO or socket.
    """
    where = str(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0))
    except (FileNotFoundError, NotADirectoryError):
        raise UserError("no such file", where) from None
    except OSError as err:
        raise _cannot_read(err, where) from None
    try:
        kind = _not_regular(os.fstat(fd).st_mode)
        if kind:
            raise UserError(f"is {kind}, expected {what}", where)
        with open(fd, "rb", closefd=False) as f:
            data = f.read()
    except OSError as err:
        raise _cannot_read(err, where) from None
    finally:
        os.close(fd)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise UserError("not a UTF-8 text file", where) from None


def write_stdout(text: str) -> None:
    """Write ``text`` to standard output and flush it; a full or failing one is a UserError.

    A reader that went away (``hwsim info g.json | head``) raises BrokenPipeError, which the
    CLI ends quietly as Unix tools do.
    """
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as err:
        raise UserError(f"cannot write: {err.strerror or err}", "standard output") from None


def _cannot_read(err: OSError, where: str) -> UserError:
    return UserError(f"cannot read: {err.strerror or err}", where)


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
    check_target(path)
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
    if _mode(directory, follow=True) is not None:  # check_directory found a directory there
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
    check_directory(directory, files)
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
