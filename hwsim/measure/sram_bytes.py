"""The array side of the SRAM energy, command by command (``hwsim.measure.energy``'s rule).

A compute command reads the buffers it lists in ``reads`` (each of its parts' ``reads``, a
cascade's), each at the size of its latest allocation, and writes those it allocates; a
streamed layer's tiles command, what its per-tile computes read and write. The plan's total is
summed in ``hwsim.measure.facts``' one pass over the commands.
"""

from __future__ import annotations

from collections import Counter
from operator import attrgetter

_READS = attrgetter("reads")


def compute_read_bytes(command, size_of: dict[str, int]) -> int:
    """The SRAM bytes compute ``command`` reads: each buffer of its ``reads`` (of each of its
    parts', a cascade's) at the size of its latest allocation (``size_of``)."""
    if not command.parts:
        return _read_bytes(command, command.reads, size_of)
    return sum(_read_bytes(command, reads, size_of) * times
               for reads, times in Counter(map(_READS, command.parts)).items())


def _read_bytes(command, reads: tuple[str, ...], size_of: dict[str, int]) -> int:
    """The bytes of the buffers ``reads`` (of compute ``command``), each as last allocated."""
    total = 0
    for name in reads:
        size = size_of.get(name)
        if size is None:
            raise RuntimeError(f"compute command {command.id} reads {name!r}, which no command allocated")
        total += size
    return total


def tiles_sram_bytes(command, size_of: dict[str, int]) -> int:
    """What the per-tile computes of a streamed layer read and write (``hwsim.schedule.expand``):
    each tile its input and output tiles, the resident operands and the weight chunk; the
    first tile the outputs written in place."""
    run = command.run
    tiles = 0
    for stream in run.reads + run.writes:  # its tiles that move any bytes
        tiles += stream.size * (len(stream.nbytes) - stream.nbytes.count(0))
    resident = run.weight_size if run.weight_block else 0
    for name in run.resident:
        if name not in size_of:
            raise RuntimeError(f"tiles command {command.id} reads {name!r}, which no command allocated")
        resident += size_of[name]
    outs = 0
    for buffer in command.allocs:
        if buffer.space == "sram" and buffer.role != "arena":
            outs += buffer.size
    return tiles + run.tiles * resident + outs
