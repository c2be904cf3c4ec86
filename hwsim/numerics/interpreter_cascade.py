"""A cascade in the plan interpreter: its layers run stripe by stripe through rolling buffers.

Everything comes from the plan (``Plan.cascades``, the commands, their buffers); nothing is
rebuilt with the scheduler. A cascade's compute command runs its parts (``Command.parts``)
in order, each as a command of its own would: the part of layer ``t`` in stripe ``s`` reads
only the buffers it lists (``Part.reads``) and makes driver rows ``[o0, o1) = c.done(t, s)``:

* **Inputs are staged** at their whole shape, NaN everywhere, then filled with what SRAM
  holds now: a tensor of ``c.rolling`` from its ring (the live ``rows`` buffer of it, which the part
  must list in ``reads``): only the rows its slots hold, i.e. the last rows written there;
  a tensor made earlier in the same cascade and written whole (``c.writes`` read inside it):
  the rows written so far, from its buffer; a tensor made before the cascade: its whole
  buffer(s), as a layer-mode compute reads it.
* **Parameters** are this layer's slice of the cascade's weight block as it sits in SRAM:
  the block is every layer's weight image one after the other in layer order (the
  ``Cascade`` docstring), so layer ``t``'s image starts after those of ``c.first .. t - 1``.
  Bytes of the block no load wrote are poison.
* The layer is **computed whole** on the staged inputs (``compute_layer``, the very code of
  the golden run, on arrays of the same shapes, so the rows that do not depend on a NaN are
  bit-identical) and the rows it finished are cut out of each output: ``[w(o0), w(o1))`` with
  ``w(o) = min(ceil(o * H / R), H)`` (``H`` the output's rows, ``R`` the layer's driver rows,
  ``Cascade.rows``), as ``hwsim.schedule.rows`` maps them. A row that needs a row the plan
  did not keep (a forgotten halo row, a ring too short, a dropped stripe) comes out NaN.
* An output with fewer rows than the driver rows gets a row only once all the driver rows
  under it are done, ``w(o) = floor(o * H / R)``: a global pooling closing a cascade (driven
  by its input rows) writes its 1x1 output at its last stripe. Such a layer
  **accumulates**: each stripe it reads the input rows SRAM holds then, which stand for its
  accumulator, and computes its finished rows from all the rows read so far.
* **Outputs are written** row by row into their ring slots (row ``r`` at slot ``r mod
  Buffer.rows``) or into their whole buffer (at the row's place in the NCHW layout).

**Rolling-buffer byte layout** (``Buffer``/``RollingBuffer`` docstrings): slot ``k`` starts at
``address + k * row_bytes`` and holds one row of the tensor for every image and channel,
``N * C * W`` elements in (n, c, w) order, each at the tensor's storage width;
``row_bytes = nbytes(tensor) / H``, so a ring of ``rows`` slots takes
``rows * nbytes / H`` bytes (``RollingBuffer.nbytes``; the ``Buffer`` adds alignment).

What a ring holds is tracked as the row each slot last received (the slot address
arithmetic hardware does); the values always come from the bytes in SRAM, so a buffer
written over the ring corrupts them. The only values kept outside the memory image are
each layer's record for the layer-by-layer comparison, assembled from the rows as they were
written (read back from SRAM; a row never written stays NaN there), and the input rows an
accumulating layer has read (its accumulator).

A layer that reduces a value over the rows and uses it on every row (a GRN's statistic, which
a streamed layer gets from a first pass, ``interpreter_stream``) cannot make its rows stripe
by stripe: in a cascade its first stripe sees only the rows made so far and comes out NaN.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from hwsim.numerics.interpreter import InterpreterError, compute_layer
from hwsim.numerics.memory import POISON
from hwsim.schedule.plan import Buffer, Cascade, Command


def row_span(o0: int, o1: int, driver: int, rows: int) -> tuple[int, int]:
    """Rows of a tensor of ``rows`` rows that driver rows ``[o0, o1)`` of ``driver`` finish: the rows
    whose driver rows are all done, ``[w(o0), w(o1))`` with ``w(o) = ceil(o * rows / driver)`` (the
    scheduler's map) when the tensor has as many rows as the driver or more, ``floor(o * rows /
    driver)`` when fewer (a row that sums several driver rows is finished with the last of them)."""
    if rows < driver:
        return o0 * rows // driver, o1 * rows // driver
    return min(-(-o0 * rows // driver), rows), min(-(-o1 * rows // driver), rows)


class CascadeRun:
    """The state of one cascade in a plan run (created at its first weight load or compute)."""

    def __init__(self, machine, c: Cascade):
        self.m, self.c = machine, c
        self.graph = machine.graph
        self.rolling = {r.tensor for r in c.rolling}
        self.made = {w for t in c.layers for w in machine.io[t].writes}
        for name in self.made:
            if len(self.graph.tensor[name].shape) != 4:
                raise InterpreterError(f"cascade layer writes {name!r}, not a feature map", c.first)
        self.slots: dict[str, np.ndarray] = {}  # ring tensor -> the row each slot holds (-1: none)
        self.written: dict[str, np.ndarray] = {}  # whole tensor made here -> rows written so far
        self.held: dict[int, dict[str, np.ndarray]] = {}  # accumulating layer -> the input rows it has read
        self.offsets: dict[int, int] = {}  # layer -> its image's offset in the weight block
        at, images = 0, []
        for t in c.layers:
            self.offsets[t] = at
            images.append(machine.image(t).raw)
            at += images[-1].size
        self.image = np.concatenate(images) if images else np.zeros(0, np.uint8)
        if self.image.size != c.weight_bytes:
            raise InterpreterError(f"the weight images of layers {c.first}..{c.last} hold {self.image.size} B, "
                                   f"the cascade counts {c.weight_bytes} B", c.first)

    # ---- geometry ------------------------------------------------------------------------
    def row_bytes(self, name: str) -> int:
        n, ch, _, w = self.graph.tensor[name].shape
        return self.m.codecs[name].nbytes(n * ch * w)

    def ring(self, name: str) -> Buffer:
        b = self.m.rings.get(name)
        if b is None:
            raise InterpreterError(f"layer writes rows of {name!r} but the plan allocated no ring for it",
                                   self.m.command.layer)
        if b.rows < 1 or b.rows * self.row_bytes(name) > b.size:
            self.m.note(f"the ring of {name!r} ({b.rows} rows of {self.row_bytes(name)} B) "
                        f"does not fit its {b.size} B buffer")
        return b

    # ---- a compute -----------------------------------------------------------------------
    def accumulates(self, t: int) -> bool:
        """Whether layer ``t`` writes a tensor with fewer rows than its driver rows (a global pooling
        closing a cascade, driven by its input rows): each of its rows sums several stripes."""
        driver = self.c.rows[t - self.c.first]
        return any(self.graph.tensor[w].shape[2] < driver for w in self.m.io[t].writes)

    def compute(self, cmd: Command) -> None:
        """Run the parts of ``cmd`` in order, each as the command of that one part would run."""
        if not cmd.parts:
            raise InterpreterError(f"a compute of cascade layer {cmd.layer} without parts", cmd.layer)
        for part in cmd.parts:
            self.m.command = replace(cmd, layer=part.layer, tile=part.stripe, cycles=part.cycles,
                                     reads=part.reads, parts=())
            self.compute_part(self.m.command)
        self.m.command = cmd

    def compute_part(self, cmd: Command) -> None:
        m, c, t = self.m, self.c, cmd.layer
        if not (c.first <= t <= c.last and 0 <= cmd.tile < c.stripes):
            raise InterpreterError(f"a part of layer {t} in stripe {cmd.tile}: not in the cascade", t)
        o0, o1 = c.done(t, cmd.tile)
        driver = c.rows[t - c.first]
        accumulates = self.accumulates(t)
        staged: dict[str, np.ndarray] = {}
        m.operands = set(cmd.reads)
        try:
            if accumulates:  # the rows read so far stand for the accumulator
                held = self.held.setdefault(t, {})
                for root in m.io[t].reads:
                    v = self.stage(root)
                    held[root] = v if root not in held else np.where(np.isnan(v), held[root], v)
                spans = [row_span(o0, o1, driver, self.graph.tensor[w].shape[2]) for w in m.io[t].writes]
                if all(r0 == r1 for r0, r1 in spans):
                    return  # no row finished: nothing to compute yet
                staged = held

            def read(root: str) -> np.ndarray:
                if root not in staged:
                    staged[root] = self.stage(root)
                return staged[root]

            env = compute_layer(self.graph, t, read, self.params(cmd, t).__getitem__)
        finally:
            m.operands = None
        record = m.result.layer_values.setdefault(
            t, {w: np.full(self.graph.tensor[w].shape, np.nan, np.float32) for w in m.io[t].writes})
        for w in m.io[t].writes:
            r0, r1 = row_span(o0, o1, driver, self.graph.tensor[w].shape[2])
            if r0 < r1:
                self.write_rows(w, env[w][:, :, r0:r1], r0, record[w])

    def stage(self, root: str) -> np.ndarray:
        """What SRAM holds of input ``root`` now (NaN where it holds nothing of it)."""
        m, shape = self.m, self.graph.tensor[root].shape
        if root in self.rolling:
            staged = np.full(shape, np.nan, np.float32)
            ring = m.rings.get(root)
            if ring is None or ring.name not in m.operands:
                m.note(f"needs rows of {root!r}, but the command lists no rolling buffer of them among its reads")
                return staged
            b = m.buffer(ring.name)
            slots = self.slots.get(root)
            if b is None or slots is None:
                return staged
            n, ch, _, w = shape
            held = np.flatnonzero(slots >= 0)
            raw = m.mem.read(b.space, b.address, slots.size * self.row_bytes(root))
            if m.probe is not None:
                m.probe.check_rows(m, root, b.space, b.address, raw, slots, self.row_bytes(root))
            data = m.codecs[root].decode(raw, (slots.size, n, ch, w))
            staged[:, :, slots[held], :] = data[held].transpose(1, 2, 0, 3)
            return staged
        if root not in self.made:
            return m.tensor_value(root)
        m.probe_reads = False  # only the rows written so far count: checked below
        try:
            value = m.tensor_value(root)
        finally:
            m.probe_reads = True
        done = self.written.get(root, np.zeros(shape[2], bool))
        value[:, :, ~done, :] = np.nan
        b = m.live.get(root)
        if m.probe is not None and b is not None and root in m.operands:
            self.check_rows_of_whole(root, b, done, "reads")
        return value

    def check_rows_of_whole(self, name: str, b: Buffer, rows: np.ndarray, access: str) -> None:
        """Compare rows ``rows`` (a mask over H) of ``name``'s whole NCHW buffer ``b`` with the
        quantised network's bytes; the other rows are not compared."""
        m = self.m
        n, ch, h, w = self.graph.tensor[name].shape
        step = m.codecs[name].bits // 8
        mask = np.zeros((n * ch, h, w * step), bool)
        mask[:, rows, :] = True
        mask = mask.reshape(-1)
        raw = m.mem.read(b.space, b.address, m.nbytes(name))
        want = m.probe.expected(name)
        m.probe.check(m, name, b.space, b.address, np.where(mask, raw, want), access)

    def write_rows(self, name: str, rows: np.ndarray, r0: int, record: np.ndarray) -> None:
        """Encode rows ``r0 ..`` of ``name`` into its ring slots or its whole buffer; record them as read back."""
        m = self.m
        codec = m.codecs[name]
        n, ch, h, w = self.graph.tensor[name].shape
        k = rows.shape[2]
        if name in self.rolling:
            b = self.ring(name)
            size = self.row_bytes(name)
            slots = self.slots.setdefault(name, np.full(max(b.rows, 1), -1, np.int64))
            for i in range(k):
                r = r0 + i
                at = b.address + (r % slots.size) * size
                m.mem.write(b.space, at, codec.encode(rows[:, :, i, :]))
                slots[r % slots.size] = r
                back = m.mem.read(b.space, at, size)
                if m.probe is not None:
                    m.probe.check(m, name, b.space, at, back, "writes", index=(slice(None), slice(None), r))
                record[:, :, r, :] = codec.decode(back, (n, ch, w))
            return
        b = m.live.get(name)
        if b is None:
            raise InterpreterError(f"layer writes {name!r} but the plan allocated no buffer for it", m.command.layer)
        step = codec.bits // 8
        image = m.mem.view(b.space, b.address, m.nbytes(name)).reshape(n * ch, h, w * step)
        image[:, r0:r0 + k, :] = codec.encode(rows).reshape(n * ch, k, w * step)
        back = np.ascontiguousarray(image[:, r0:r0 + k, :]).reshape(-1)
        record[:, :, r0:r0 + k, :] = codec.decode(back, (n, ch, k, w))
        if m.probe is not None:
            written = np.zeros(h, bool)
            written[r0:r0 + k] = True
            self.check_rows_of_whole(name, b, written, "writes")
        self.written.setdefault(name, np.zeros(h, bool))[r0:r0 + k] = True

    def params(self, cmd: Command, t: int) -> dict[str, np.ndarray]:
        """Layer ``t``'s parameters from its slice of the weight block in the SRAM buffers ``cmd`` reads."""
        m = self.m
        image = m.image(t)
        off, size = self.offsets[t], image.raw.size
        raw = np.full(size, POISON, np.uint8)
        for name in cmd.reads:
            chunk = m.chunks.get(name)
            if chunk is None or chunk[0] != self.c.first or (b := m.buffer(name)) is None:
                continue
            _, start, n = chunk
            lo, hi = max(start, off), min(start + n, off + size)
            if lo < hi:
                raw[lo - off: hi - off] = m.mem.view(b.space, b.address + lo - start, hi - lo)
        if m.probe is not None:
            m.probe.check_weights(m, t, raw, image.raw)
        return m.weights.decode(self.graph, image, raw)
