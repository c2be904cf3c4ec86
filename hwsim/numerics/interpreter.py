"""Running a graph on numbers: layer by layer in a dict (golden), or following a plan in a memory image.

:func:`compute_layer` runs the ops of one layer with the kernels; the values a layer reads
come from a callback, so the same code serves both interpreters.

:func:`run_layers` (the golden run) keeps tensors in a dict; every tensor a layer writes
passes through its codec, as it would through SRAM.

:func:`run_plan` follows a :class:`~hwsim.schedule.plan.Plan`'s command stream in program
order inside a :class:`~hwsim.numerics.memory.Memory` and passes nothing around outside it:

* ``compute``: the layer reads every input from SRAM at the address of the buffer the plan
  gave it, taking operands only from the buffers its command lists in ``reads`` (bytes
  decoded with the tensor's codec, whose scale travels beside the image as a descriptor
  would; a view reinterprets its root's bytes with its own shape), computes in float32,
  and encodes every tensor it writes into its buffer. Its parameters are the bytes the
  layer's ``weights:<layer>`` buffers hold in SRAM (or the weight buffer), decoded.
  A piece of an in-place concatenation is a buffer of its own inside the concatenation's
  storage, so reading the concatenation reads its pieces where they are, and a slice that
  the plan made an alias reads the pieces holding it (``Plan.aliases``); layers that move
  no data (in-place concat and slice) compute nothing. A layer whose weights come in
  chunks computes at its last chunk, from the weight bytes each chunk read from SRAM.
* ``load`` copies bytes from DRAM to the buffer it allocates (``weights`` loads copy the
  next bytes of the layer's weight image); ``store`` copies a buffer's bytes to DRAM;
  ``free`` ends a buffer's residency.
* streamed layers move their row bands through tile buffers (``interpreter_stream``);
  the layers of a cascade run stripe by stripe through rolling buffers, their weights
  from one block holding every layer's image (``interpreter_cascade``).

A corrupt plan is run as hardware would run it: reading a buffer that is not allocated reads
the bytes at its last address (or NaN if it never had one), a load of something DRAM does
not hold brings poison; each such event is noted. Only an access outside a memory stops the
run (:class:`InterpreterError`, naming the command).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from hwsim.gc_pause import paused
from hwsim.graph.analysis import layer_io
from hwsim.graph.ir import Graph
from hwsim.numerics.kernels import MissingKernel, run_op
from hwsim.numerics.memory import Memory, MemoryFault, WeightImage, WeightStore, POISON
from hwsim.numerics.quantize import Codec
from hwsim.schedule.expand import expand
from hwsim.schedule.plan import Buffer, Command, Plan

Reader = Callable[[str], np.ndarray]


class InterpreterError(Exception):
    """The plan cannot be followed (an access outside a memory, an op without a kernel)."""

    def __init__(self, message: str, layer: int | None = None):
        super().__init__(message)
        self.layer = layer


def compute_layer(graph: Graph, index: int, read: Reader, param: Reader,
                  fixed: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """Every tensor layer ``index`` produces; ``read(root)`` / ``param(root)`` give what it reads;
    an op whose output is in ``fixed`` takes that value instead of computing it."""
    env: dict[str, np.ndarray] = dict(fixed or {})

    def value(name: str) -> np.ndarray:
        root = graph.root(name)
        if root not in env:
            env[root] = param(root) if graph.tensor[root].kind == "param" else read(root)
        v = env[root]
        return v if name == root else v.reshape(graph.tensor[name].shape)

    for op_name in graph.layers[index].ops:
        op = graph.op[op_name]
        if fixed and op.outputs[0] in fixed:
            continue
        try:
            env[op.outputs[0]] = run_op(op.kind, [value(i) for i in op.inputs], op.attrs)
        except MissingKernel as exc:
            raise InterpreterError(f"op {op.name!r} ({op.module or '<top>'}): {exc}", index) from None
    return env


def run_layers(graph: Graph, inputs: dict[str, np.ndarray], weights: dict[str, np.ndarray],
               codecs: dict[str, Codec] | None = None) -> dict[str, np.ndarray]:
    """The golden run: every layer in order, tensors in a dict (through their codecs if given)."""
    def stored(name: str, v: np.ndarray) -> np.ndarray:
        return codecs[name].round_trip(v) if codecs else v

    values = {graph.root(n): stored(graph.root(n), np.asarray(v, np.float32)) for n, v in inputs.items()}
    for io in layer_io(graph):
        env = compute_layer(graph, io.index, values.__getitem__, weights.__getitem__)
        for w in io.writes:
            values[w] = stored(w, env[w])
    return values


@dataclass
class PlanRun:
    """What a plan run produced: each layer's written tensors (decoded as written), the graph
    outputs read back from DRAM at the end, and the events a corrupt plan causes."""

    layer_values: dict[int, dict[str, np.ndarray]] = field(default_factory=dict)
    outputs: dict[str, np.ndarray] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    computes: dict[int, int] = field(default_factory=dict)  # layer -> id of its last compute command


class Machine:
    """The state of one plan run: the memory image, the buffers allocated, the weight staging."""

    def __init__(self, graph: Graph, plan: Plan, weights: WeightStore, codecs: dict[str, Codec], spec=None,
                 probe=None):
        # A streamed layer's tiles run one by one, as the commands they stand for.
        self.graph, self.plan, self.weights, self.codecs, self.spec = graph, expand(plan), weights, codecs, spec
        self.probe = probe  # an exact.Probe comparing the bytes moved with the quantised network's, or None
        if probe is not None:
            probe.machine = self
        self.command_by_id = {c.id: c for c in self.plan.commands}
        self.runs = {run.layer: run for run in self.plan.lowered}
        self.mem = Memory(plan.sram_bytes, plan.weight_buffer_bytes)
        self.live: dict[str, Buffer] = {}
        self.last: dict[str, Buffer] = {}  # buffer name -> where it was last allocated
        self.io = layer_io(graph)
        self.alias_of = {t: pieces for t, pieces, _ in plan.aliases}
        self.alias_layers = {io.index for io in self.io if io.writes and all(w in self.alias_of for w in io.writes)}
        self.images: dict[int, WeightImage] = {}
        self.staged: dict[int, np.ndarray] = {}  # layer -> its weight image as gathered from SRAM
        self.chunks: dict[str, tuple[int, int, int]] = {}  # weight buffer -> (layer, image offset, bytes)
        self.chunk_end: dict[int, int] = {}
        self.result = PlanRun()
        self.streams: dict[int, object] = {}
        self.cascade_of = {t: c for c in plan.cascades for t in c.layers}
        self.cascade_runs: dict[int, object] = {}
        self.command: Command | None = None
        self.rings: dict[str, Buffer] = {}  # tensor -> the live rolling buffer holding its rows
        self.operands: set[str] | None = None  # during a compute: the buffers its command reads
        self.probe_reads = True  # False while a cascade reads a buffer only partly written (it checks the rows)
        self.progress = None  # progress(total_layers, layer_name) as each layer starts (run_plan)

    # ---- the run -------------------------------------------------------------------------
    def run(self, inputs: dict[str, np.ndarray]) -> PlanRun:
        for name, value in inputs.items():
            root = self.graph.root(name)
            self.mem.dram_write(root, self.codecs[root].encode(value))
        started: set[int] = set()
        for cmd in self.plan.commands:
            self.command = cmd
            self.mem.current = cmd.id
            try:
                self.step(cmd)
            except MemoryFault as exc:
                raise InterpreterError(f"command {cmd.id} ({cmd.kind}, layer {cmd.layer}): {exc}", cmd.layer) from None
            if self.progress is not None and cmd.kind == "compute":
                layers = [p.layer for p in cmd.parts] if cmd.parts else [cmd.layer]
                new = [t for t in dict.fromkeys(layers) if t not in started]
                started.update(new)
                for t in new:
                    self.progress(len(self.graph.layers), self.graph.layers[t].name)
        for name in self.graph.outputs:
            root = self.graph.root(name)
            raw, found = self.mem.dram_read(root, self.nbytes(root))
            if not found:
                self.note(f"graph output {root!r} is not in DRAM at the end")
            self.result.outputs[name] = self.codecs[root].decode(raw, self.graph.tensor[root].shape)
        return self.result

    def step(self, cmd: Command) -> None:
        for b in cmd.allocs:
            self.live[b.name] = b
            self.last[b.name] = b
            if b.role == "rows":
                self.rings[b.tensor] = b
        if cmd.kind == "compute":
            self.compute(cmd)
        elif cmd.kind == "load":
            self.load(cmd)
        elif cmd.kind == "store":
            self.store(cmd)
        for b in cmd.frees:
            self.live.pop(b.name, None)
            if b.role == "rows" and self.rings.get(b.tensor) == b:
                del self.rings[b.tensor]

    def note(self, text: str) -> None:
        where = f"command {self.command.id} (layer {self.graph.layers[self.command.layer].name})" \
            if self.command is not None else "start"
        self.result.notes.append(f"{where}: {text}")

    def stream(self, t: int):
        if t not in self.streams:
            from hwsim.numerics.interpreter_stream import Stream

            self.streams[t] = Stream(self, t)
        return self.streams[t]

    def cascade(self, t: int):
        c = self.cascade_of[t]
        if c.first not in self.cascade_runs:
            from hwsim.numerics.interpreter_cascade import CascadeRun

            self.cascade_runs[c.first] = CascadeRun(self, c)
        return self.cascade_runs[c.first]

    # ---- buffers -------------------------------------------------------------------------
    def nbytes(self, tensor: str) -> int:
        return self.codecs[tensor].nbytes(self.graph.tensor[tensor].elements)

    def buffer(self, name: str) -> Buffer | None:
        """The buffer ``name`` where the plan allocated it; noted when it is not allocated now."""
        if name in self.live:
            return self.live[name]
        if name in self.last:
            self.note(f"reads {name!r}, which is not allocated: stale bytes at its last address")
            return self.last[name]
        self.note(f"reads {name!r}, which was never allocated")
        return None

    def read_piece(self, piece: str) -> np.ndarray:
        shape = self.graph.tensor[piece].shape
        if self.operands is not None and piece not in self.operands:
            self.note(f"needs {piece!r}, which the command does not list among its reads")
            return np.full(shape, np.nan, np.float32)
        b = self.buffer(piece)
        if b is None:
            return np.full(shape, np.nan, np.float32)
        raw = self.mem.read(b.space, b.address, self.nbytes(piece))
        if self.probe is not None and self.probe_reads:
            self.probe.check(self, piece, b.space, b.address, raw, "reads")
        return self.codecs[piece].decode(raw, shape)

    def write_piece(self, piece: str, value: np.ndarray) -> np.ndarray:
        """Encode ``value`` into ``piece``'s buffer; returns what the buffer now holds, decoded."""
        b = self.live.get(piece)
        if b is None:
            raise InterpreterError(f"layer writes {piece!r} but the plan allocated no buffer for it",
                                   self.command.layer)
        raw = self.codecs[piece].encode(value)
        self.mem.write(b.space, b.address, raw)
        back = self.mem.read(b.space, b.address, raw.size)
        if self.probe is not None:
            self.probe.check(self, piece, b.space, b.address, back, "writes")
        return self.codecs[piece].decode(back, value.shape)

    def tensor_value(self, name: str, piece_value: Reader | None = None) -> np.ndarray:
        """The value of a tensor from its pieces (in SRAM unless ``piece_value`` says otherwise)."""
        piece_value = piece_value or self.read_piece
        root = self.graph.root(name)
        value = alias_value(self.graph, root, piece_value, self.alias_of) if root in self.alias_of \
            else piece_value(root)
        return value.reshape(self.graph.tensor[name].shape)

    # ---- commands --------------------------------------------------------------------------
    def load(self, cmd: Command) -> None:
        if cmd.traffic == "weights":
            self.load_weights(cmd)
            return
        b = cmd.allocs[0] if cmd.allocs else self.buffer(cmd.tensor)
        if b is not None and b.tile is not None:
            self.stream(cmd.layer).load_tile(cmd, b)
            return
        if b is None:
            return
        raw, found = self.mem.dram_read(cmd.tensor, self.nbytes(cmd.tensor))
        if not found:
            self.note(f"loads {cmd.tensor!r}, which DRAM does not hold: poison")
        self.mem.write(b.space, b.address, raw)

    def store(self, cmd: Command) -> None:
        name = cmd.reads[0] if cmd.reads else cmd.tensor
        if cmd.tile is not None:  # a band of a streamed layer's output, from its tile buffer
            self.stream(cmd.layer).store_tile(cmd, name)
            return
        b = self.buffer(name)
        if b is None:
            return
        self.mem.dram_write(cmd.tensor, self.mem.read(b.space, b.address, self.nbytes(cmd.tensor)))

    def image(self, t: int) -> WeightImage:
        if t not in self.images:
            self.images[t] = self.weights.image(self.graph, t)
        return self.images[t]

    def load_weights(self, cmd: Command) -> None:
        t, b = cmd.layer, cmd.allocs[0]
        start = 0 if cmd.tile in (None, 0) else self.chunk_end.get(t, 0)
        self.chunk_end[t] = start + cmd.dram_bytes
        self.chunks[b.name] = (t, start, cmd.dram_bytes)
        cascade = t in self.cascade_of and self.cascade_of[t].first == t  # every layer's image, in order
        image = self.cascade(t).image if cascade else self.image(t).raw
        self.mem.write(b.space, b.address, image[start: start + cmd.dram_bytes])

    def gather_weights(self, cmd: Command, initial: np.ndarray | None = None) -> bool:
        """Copy the weight bytes this compute reads from SRAM into its layer's staged image;
        True if that changed the staged image."""
        t = cmd.layer
        size = self.image(t).raw.size
        changed = t not in self.staged
        for name in cmd.reads:
            if name not in self.chunks or (b := self.buffer(name)) is None:
                continue
            _, start, n = self.chunks[name]
            raw = self.mem.view(b.space, b.address, n)
            if t not in self.staged and start == 0 and n == size:
                self.staged[t] = raw.copy()  # the whole image in one buffer
                continue
            if t not in self.staged:
                self.staged[t] = initial.copy() if initial is not None else np.full(size, POISON, np.uint8)
            if initial is not None:  # streamed: tell whether the tile sees other weights than the last one
                changed = changed or not np.array_equal(raw, self.staged[t][start: start + n])
            self.staged[t][start: start + n] = raw
        return changed

    def params(self, t: int) -> dict[str, np.ndarray]:
        image = self.image(t)
        raw = self.staged[t] if t in self.staged else np.full(image.raw.size, POISON, np.uint8)
        if self.probe is not None:
            self.probe.check_weights(self, t, raw, image.raw)
        return self.weights.decode(self.graph, image, raw)

    def compute(self, cmd: Command) -> None:
        t = cmd.layer
        self.result.computes[t] = cmd.id
        if t in self.alias_layers:
            return
        if t in self.cascade_of:
            self.cascade(t).compute(cmd)
            return
        if self.plan.layers[t].streamed:
            self.stream(t).compute_tile(cmd)
            return
        self.gather_weights(cmd)
        if cmd.tile is not None and cmd.tile < self.plan.layers[t].tiles - 1:
            return  # a weight chunk: the layer computes once all chunks went through SRAM
        params = self.params(t)
        self.staged.pop(t, None)
        self.operands = set(cmd.reads)
        try:
            env = compute_layer(self.graph, t, self.tensor_value, params.__getitem__)
        finally:
            self.operands = None
        self.result.layer_values[t] = {w: self.write_piece(w, env[w]) for w in self.io[t].writes}


def alias_value(graph: Graph, root: str, piece_value: Reader, aliases) -> np.ndarray:
    """The value of an alias (an in-place concatenation or a slice of resident pieces).

    A concatenation is its inputs' values concatenated; a slice of a concatenation along the
    concatenation's axis reads only the inputs it covers (the plan keeps only those
    resident); any other slice is cut from its input's value.
    """
    def value(name: str) -> np.ndarray:
        r = graph.root(name)
        v = alias_value(graph, r, piece_value, aliases) if r in aliases else piece_value(r)
        return v.reshape(graph.tensor[name].shape)

    op = graph.op[graph.producer[root]]
    if op.kind == "concat":
        return run_op("concat", [value(i) for i in op.inputs], op.attrs)
    src = op.inputs[0]
    axis = int(op.attrs["axis"]) % len(graph.tensor[src].shape)
    start, end, step = int(op.attrs["start"]), int(op.attrs["end"]), int(op.attrs.get("step", 1))
    parent = graph.op.get(graph.producer.get(src, ""))
    if src in aliases and parent is not None and parent.kind == "concat" and step == 1 \
            and int(parent.attrs["axis"]) % len(graph.tensor[src].shape) == axis:
        parts, at = [], 0
        for i in parent.inputs:
            extent = graph.tensor[i].shape[axis]
            lo, hi = max(start, at), min(end, at + extent)
            if lo < hi:
                parts.append(run_op("slice", [value(i)], {"axis": axis, "start": lo - at, "end": hi - at}))
            at += extent
        return np.concatenate(parts, axis=axis)
    return run_op("slice", [value(src)], op.attrs)


@paused
def run_plan(graph: Graph, plan: Plan, weights: WeightStore, codecs: dict[str, Codec],
             inputs: dict[str, np.ndarray], spec=None, probe=None, progress=None) -> PlanRun:
    """Follow ``plan`` in a memory image (``spec`` is needed only when a layer is streamed;
    ``probe``: an :class:`~hwsim.numerics.exact.Probe` checking the bytes moved; ``progress``:
    called as ``progress(total_layers, layer_name)`` when each layer's first compute runs)."""
    machine = Machine(graph, plan, weights, codecs, spec, probe)
    machine.progress = progress
    return machine.run(inputs)
