"""The files a user gives the numerics check: trained weights and a calibration set.

* ``--weights model.pt``: a PyTorch state dict (``torch.save(model.state_dict(), path)``; a
  dict holding it under ``"state_dict"``, as training checkpoints often do, is accepted too),
  loaded with ``weights_only=True`` (no code runs from the file). Its keys must be exactly the
  model's and every shape must agree; anything else is one error line naming the file.
* ``--calibration FILE.npy``: float inputs of the model's input shape, one (that shape) or
  several (an extra leading axis; or, for a batch of 1, ``(N, C, H, W)``), finite.
* ``--calibration N``: N inputs drawn like the checked input (standard normal) from seeds
  ``seed + 1 .. seed + N``, so the checked input is not among them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hwsim.errors import UserError, one_line

MAX_CALIBRATION = 1024


def calibration_count(text: str) -> int | str:
    """``--calibration``'s value: a count 1..MAX_CALIBRATION, or a path to a ``.npy`` file."""
    if text.strip().isdigit():
        n = int(text)
        if not 1 <= n <= MAX_CALIBRATION:
            raise UserError(f"{n} calibration inputs: give 1 to {MAX_CALIBRATION}, or a .npy file", "--calibration")
        return n
    if not text.endswith(".npy"):
        raise UserError(f"{one_line(text)!r} is neither a count of inputs nor a .npy file", "--calibration")
    return text


def load_calibration(path: str, input_shape: tuple[int, ...]) -> list[np.ndarray]:
    """The calibration inputs in ``path``, each of ``input_shape`` (float32)."""
    where = f"--calibration {one_line(path)}"
    if not Path(path).is_file():
        raise UserError("no such file", where)
    try:
        data = np.load(path, allow_pickle=False)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the user's
        raise UserError(f"not a .npy array ({one_line(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)})",
                        where) from None
    if not isinstance(data, np.ndarray) or data.dtype.kind not in "fiu":
        raise UserError(f"holds {getattr(data, 'dtype', type(data).__name__)} values, not numbers", where)
    shape = tuple(data.shape)
    if shape == tuple(input_shape):
        items = [data]
    elif shape[1:] == tuple(input_shape):
        items = list(data)
    elif input_shape[0] == 1 and len(shape) == len(input_shape) and shape[1:] == tuple(input_shape[1:]):
        items = [data[i: i + 1] for i in range(shape[0])]
    else:
        raise UserError(f"an array of shape {list(shape)}: the model's input is {list(input_shape)} "
                        f"(give that shape, or N of them along a new first axis)", where)
    if not items or len(items) > MAX_CALIBRATION:
        raise UserError(f"{len(items)} calibration inputs: give 1 to {MAX_CALIBRATION}", where)
    items = [np.asarray(x, np.float32) for x in items]
    if not all(np.isfinite(x).all() for x in items):
        raise UserError("holds NaN or infinite values", where)
    return items


def load_state_dict(path: str, model) -> None:
    """Load the state dict file ``path`` into ``model`` (in place), or raise a UserError naming it."""
    import torch

    where = f"--weights {one_line(path)}"
    if not Path(path).is_file():
        raise UserError("no such file", where)
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - a corrupt or foreign file is the user's
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"cannot be read as a PyTorch state dict ({one_line(first)[:200]})", where) from None
    if isinstance(loaded, dict) and "state_dict" in loaded and isinstance(loaded["state_dict"], dict):
        loaded = loaded["state_dict"]
    if not isinstance(loaded, dict) or not all(isinstance(v, torch.Tensor) for v in loaded.values()):
        raise UserError(f"holds a {type(loaded).__name__}, not a state dict of tensors", where)
    own = model.state_dict()
    missing = [k for k in own if k not in loaded]
    unexpected = [str(k) for k in loaded if k not in own]
    problems = []
    if missing:
        problems.append(f"{len(missing)} key(s) of the model missing ({', '.join(missing[:3])}"
                        f"{' ...' if len(missing) > 3 else ''})")
    if unexpected:
        problems.append(f"{len(unexpected)} key(s) the model does not have ({one_line(', '.join(unexpected[:3]))}"
                        f"{' ...' if len(unexpected) > 3 else ''})")
    shapes = [f"{k}: {list(loaded[k].shape)} for {list(v.shape)}" for k, v in own.items()
              if k in loaded and tuple(loaded[k].shape) != tuple(v.shape)]
    if shapes:
        problems.append(f"{len(shapes)} shape(s) differ ({'; '.join(shapes[:2])})")
    bad = [k for k, v in loaded.items() if k in own and v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        problems.append(f"NaN or infinite values in {', '.join(bad[:3])}")
    if problems:
        raise UserError("; ".join(problems), where)
    with torch.no_grad():
        model.load_state_dict(loaded, strict=True)


def describe_calibration(calibration: int | str | None) -> str:
    if calibration is None:
        return "the checked input"
    if isinstance(calibration, int):
        return f"{calibration} random input{'s' if calibration != 1 else ''}"
    return f"{Path(calibration).name}"

