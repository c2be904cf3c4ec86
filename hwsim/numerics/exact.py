"""The schedule check: the memory image must hold, bit for bit, what the quantised network computes.

The plan interpreter (``interpreter*.py``) runs the quantised network through the simulated
SRAM and DRAM; :mod:`hwsim.numerics.golden` runs the same quantised network with no memory at
all. Both use the same kernels and codecs, so their bytes agree exactly unless the schedule
moved, kept or overwrote bytes wrongly. Any difference is a **schedule fault** (never a
tolerance: at 8 bits a one-byte fault is one code step, far inside any SQNR threshold).

A :class:`Probe` rides along with the interpreter and compares bytes as they move:

* **reads**: the bytes a compute reads from SRAM for each operand (a whole buffer, the rows
  of a tile buffer, the slots of a rolling buffer, the weight bytes of its layer) against the
  quantised network's bytes of those elements. A difference names the reading layer, the
  tensor, the SRAM address range of the differing bytes, the reading command, and the command
  that last wrote the first bad byte (``Memory.writers``): an overlapping compute, a reload
  from a stale DRAM copy, or nothing (poison);
* **writes**: the bytes a compute encodes into SRAM (a whole buffer, a band of a streamed
  layer, rows of a stripe) against the quantised network's: a difference means the layer
  computed from values the plan did not hold (a band short of its halo rows, a stripe
  whose input rows were gone), even though no byte it read was wrong;
* after the run, every layer's written tensor as assembled from what it wrote (rows never
  written stay NaN) and every graph output as read back from DRAM.

The **first fault** is the one at the earliest layer (in layer order; the graph outputs come
after every layer), a read before a write within a layer: the layer that reads the bad bytes.
Notes of the interpreter (a read of an unallocated buffer, a load of what DRAM does not hold)
fail the check too. This differs from Vela, whose verification is a static allocator check
(``verify_allocation``) plus an end-to-end comparison of the network's outputs on the device;
hwsim's ``verify_plan`` is the static part, this the dynamic, byte-level part.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hwsim.numerics.golden import QuantisedRun

MAX_FAULTS = 200
ACCESS_ORDER = {"reads": 0, "writes": 1, "never runs": 2, "output": 3}


@dataclass(frozen=True)
class Fault:
    """Bytes that differ from the quantised network's: where, and which commands."""

    layer: int  # the layer that reads (or writes) them; len(graph.layers) for a graph output
    layer_name: str
    tensor: str
    access: str  # "reads" | "writes" | "never runs" | "output"
    space: str  # "sram" | "weights" (a separate weight buffer) | "dram" | "image" (offsets in the tensor's bytes)
    lo: int  # byte range [lo, hi) of the differing bytes in ``space``
    hi: int
    differing: int  # how many bytes differ
    command: int | None  # the command reading (or writing) them
    producer: int | None  # the command that last wrote the first bad byte (-1: never written)
    producer_text: str = ""

    def sort_key(self) -> tuple:
        return self.layer, ACCESS_ORDER[self.access], self.command if self.command is not None else 1 << 62

    def text(self) -> str:
        if self.access == "never runs":
            return f"layer {self.layer_name} never wrote its output (the run stopped, or no compute made it)"
        where = {"image": f"bytes [{self.lo}, {self.hi}) of its image",
                 "dram": f"DRAM bytes [{self.lo}, {self.hi}) of its copy"}.get(
            self.space, f"{self.space} [{self.lo}, {self.hi})")
        head = f"layer {self.layer_name} {self.access} {self.tensor!r}: {self.differing} byte(s) differ in {where}"
        if self.command is not None:
            head += f", command {self.command}"
        if self.producer_text:
            head += f"; bad bytes from {self.producer_text}"
        return head

    def to_dict(self) -> dict:
        return {"layer": self.layer_name, "tensor": self.tensor, "access": self.access, "space": self.space,
                "address": [self.lo, self.hi], "bytes_differing": self.differing, "command": self.command,
                "producer": self.producer, "producer_text": self.producer_text}


class Probe:
    """Compares the bytes a plan run moves with the quantised network's (see the module docstring)."""

    def __init__(self, graph, golden: QuantisedRun):
        self.graph, self.golden = graph, golden
        self.faults: list[Fault] = []
        self.faulted: set[tuple[int, str]] = set()  # (layer, tensor) with a write fault already
        self.machine = None  # the interpreter's Machine it rides with (set by the Machine)

    # ---- the expected bytes ---------------------------------------------------------------
    def expected(self, tensor: str, index: tuple | None = None) -> np.ndarray:
        if index is None:
            return self.golden.bytes_of(tensor)
        return self.golden.codecs[tensor].encode(self.golden.values[tensor][index])

    def describe(self, machine, command_id: int | None) -> str:
        if command_id is None:
            return ""
        if command_id < 0:
            return "no command (never written: poison)"
        cmd = machine.command_by_id.get(command_id)
        if cmd is None:
            return f"command {command_id}"
        what = f"{cmd.kind} of {cmd.tensor!r}" if cmd.kind in ("load", "store") else cmd.kind
        traffic = f", {cmd.traffic}" if cmd.traffic else ""
        tile = f", tile {cmd.tile}" if cmd.tile is not None else ""
        return f"command {command_id} ({what}{traffic}{tile}, layer {self.graph.layers[cmd.layer].name})"

    # ---- checks during the run --------------------------------------------------------------
    def check(self, machine, tensor: str, space: str, address: int, raw: np.ndarray, access: str,
              index: tuple | None = None, expected: np.ndarray | None = None) -> bool:
        """Compare ``raw`` (bytes at ``address`` of ``space``) with the quantised network's bytes of
        ``tensor`` (or of its elements ``index``); record a fault when they differ."""
        want = self.expected(tensor, index) if expected is None else expected
        if raw.size == want.size and np.array_equal(raw, want):
            return True
        if len(self.faults) >= MAX_FAULTS:
            return False
        n = min(raw.size, want.size)
        bad = np.flatnonzero(raw[:n] != want[:n])
        first, last = (int(bad[0]), int(bad[-1]) + 1) if bad.size else (n, max(raw.size, want.size))
        cmd = machine.command
        if access == "writes":
            producer = cmd.id if cmd is not None else None
            self.faulted.add((cmd.layer if cmd is not None else -1, tensor))
        else:
            producer = machine.mem.writer(space, address + first) if space in machine.mem.writers else None
        layer = cmd.layer if cmd is not None else -1
        self.faults.append(Fault(layer, self.graph.layers[layer].name if layer >= 0 else "<start>", tensor, access,
                                 space, address + first, address + last, int(bad.size) or abs(raw.size - want.size),
                                 cmd.id if cmd is not None else None, producer,
                                 self.describe(machine, producer)))
        return False

    def check_rows(self, machine, tensor: str, space: str, address: int, raw: np.ndarray,
                   rows: np.ndarray, row_bytes: int) -> None:
        """A rolling buffer's slots: slot ``k`` (``row_bytes`` at ``address + k * row_bytes``) holds
        row ``rows[k]`` of ``tensor`` (N, C, W elements in that order), -1: nothing."""
        values = self.golden.values[tensor]
        codec = self.golden.codecs[tensor]
        for k in np.flatnonzero(rows >= 0):
            at = int(k) * row_bytes
            want = codec.encode(values[:, :, int(rows[k]), :])
            if not self.check(machine, tensor, space, address + at, raw[at: at + row_bytes], "reads",
                              expected=want):
                return

    def check_weights(self, machine, layer: int, raw: np.ndarray, want: np.ndarray) -> None:
        """The weight image a compute of ``layer`` read from SRAM against the weight store's."""
        self.check(machine, f"weights:{self.graph.layers[layer].name}", "image", 0, raw, "reads", expected=want)

    # ---- after the run ----------------------------------------------------------------------
    def check_layers(self, machine, layer_values: dict, writes: dict[int, tuple[str, ...]], skipped: set[int],
                     computes: dict[int, int]) -> dict[int, bool]:
        """Each layer's written tensors as assembled from what it wrote: layer -> bit-exact."""
        exact = {}
        for t, names in writes.items():
            if t in skipped or not names:
                continue
            got = layer_values.get(t)
            if got is None:
                exact[t] = False
                self.faults.append(Fault(t, self.graph.layers[t].name, names[0], "never runs", "image", 0, 0, 0,
                                         None, None, ""))
                continue
            ok = True
            for w in names:
                raw = self.golden.codecs[w].encode(got[w])
                want = self.golden.bytes_of(w)
                if np.array_equal(raw, want):
                    continue
                ok = False
                if (t, w) not in self.faulted:
                    bad = np.flatnonzero(raw != want)
                    self.faults.append(Fault(t, self.graph.layers[t].name, w, "writes", "image", int(bad[0]),
                                             int(bad[-1]) + 1, int(bad.size), computes.get(t), computes.get(t),
                                             self.describe(machine, computes.get(t))))
            exact[t] = ok
        return exact

    def check_output(self, machine, name: str, root: str, value: np.ndarray) -> bool:
        raw = self.golden.codecs[root].encode(value)
        want = self.golden.bytes_of(root)
        if np.array_equal(raw, want):
            return True
        bad = np.flatnonzero(raw != want)
        producer = machine.mem.dram_writer.get(root, -1)
        n = len(self.graph.layers)
        self.faults.append(Fault(n, "<end>", name, "output", "dram", int(bad[0]), int(bad[-1]) + 1, int(bad.size),
                                 None, producer, self.describe(machine, producer)))
        return False

    def first(self) -> Fault | None:
        return min(self.faults, key=Fault.sort_key) if self.faults else None
