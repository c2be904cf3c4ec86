"""Writing output files so that a failure never leaves a half-written one.

Every command writes through these: data goes to a temporary file beside its target and is
renamed into place; an OS error becomes a one-line UserError naming the path.
"""

from __future__ import annotations

import os
from pathlib import Path

from hwsim.errors import UserError


def _write_temp(temp: Path, data: str | bytes) -> None:
    with open(temp, "wb") as f:
        f.write(data.encode("utf-8") if isinstance(data, str) else data)
        f.flush()
        os.fsync(f.fileno())


def write_atomic(path: str | os.PathLike, data: str | bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename."""
    path = Path(path)
    temp = path.with_name(f".{path.name}.tmp")
    try:
        _write_temp(temp, data)
        os.replace(temp, path)
    except OSError as err:
        raise UserError(f"cannot write: {err.strerror or err}", str(path)) from None
    finally:
        temp.unlink(missing_ok=True)


def write_files(directory: str | os.PathLike, files: dict[str, str | bytes]) -> None:
    """Write every file into ``directory`` or none: all to temporary names first, then rename each."""
    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError(f"cannot create the output directory: {err.strerror or err}", str(directory)) from None
    temps = {name: directory / f".{name}.tmp" for name in files}
    try:
        for name, data in files.items():
            _write_temp(temps[name], data)
        for name in files:
            os.replace(temps[name], directory / name)
    except OSError as err:
        raise UserError(f"cannot write: {err.strerror or err}", str(directory)) from None
    finally:
        for temp in temps.values():
            temp.unlink(missing_ok=True)
