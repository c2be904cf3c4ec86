"""Graph <-> JSON.

The format is published as a JSON Schema (``hwsim/graph/schema.json``, documented in
``graphs/README.md``) so that users and other tools can write graphs by hand. Writing is
deterministic: sorted keys, a fixed layout, a trailing newline. Loading checks the
structure first (types, required keys, ``schema_version``), then :func:`validate`, and
raises one :class:`UserError` naming the file and every problem's JSON path. The file must
be a regular file of strict JSON: no duplicate keys in an object, no integer of more than
:data:`MAX_INT_DIGITS` digits, nesting at most :data:`MAX_DEPTH` deep (a graph needs 5).

Bump rules for ``SCHEMA_VERSION``: a change that makes an old file mean something else
or fail to load bumps it; adding an optional key does not.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from hwsim.errors import UserError
from hwsim.files import read_text, write_atomic
from hwsim.graph.ir import Graph, Layer, Op, Tensor
from hwsim.graph.validate import validate

SCHEMA_VERSION = 1
FUSE_MODES = ("elementwise", "none")
MAX_DEPTH = 32
MAX_INT_DIGITS = 30
YAML_SUFFIXES = (".yaml", ".yml")


def graph_to_dict(g: Graph) -> dict[str, Any]:
    def tensor(t: Tensor) -> dict[str, Any]:
        d: dict[str, Any] = {"name": t.name, "shape": list(t.shape), "kind": t.kind}
        if t.view_of is not None:
            d["view_of"] = t.view_of
        if t.bits is not None:
            d["bits"] = t.bits
        return d

    def op(o: Op) -> dict[str, Any]:
        d = {"name": o.name, "kind": o.kind, "inputs": list(o.inputs), "outputs": list(o.outputs),
             "attrs": _plain(dict(o.attrs))}
        if o.module:
            d["module"] = o.module
        return d

    return {
        "schema_version": SCHEMA_VERSION,
        "name": g.name,
        "fuse": g.fuse,
        "inputs": list(g.inputs),
        "outputs": list(g.outputs),
        "tensors": [tensor(t) for t in g.tensors],
        "ops": [op(o) for o in g.ops],
        "layers": [{"name": la.name, "ops": list(la.ops)} for la in g.layers],
    }


def _plain(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v


def graph_to_json(g: Graph) -> str:
    """Deterministic JSON text: one tensor, op or layer per line, keys sorted."""
    d = graph_to_dict(g)
    lines = ["{"]
    head = [k for k in sorted(d) if k not in ("tensors", "ops", "layers")]
    for k in head:
        lines.append(f"  {json.dumps(k)}: {json.dumps(d[k], sort_keys=True)},")
    for i, k in enumerate(("layers", "ops", "tensors")):
        rows = ",\n".join(f"    {json.dumps(x, sort_keys=True)}" for x in d[k])
        lines.append(f"  {json.dumps(k)}: [\n{rows}\n  ]{',' if i < 2 else ''}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def write_graph(g: Graph, path: str | os.PathLike) -> None:
    """Write atomically: a temporary file renamed into place, so no half-written output."""
    write_atomic(path, graph_to_json(g))


# ---- loading -------------------------------------------------------------------------
_TOP = {"schema_version": int, "name": str, "inputs": list, "outputs": list, "tensors": list,
        "ops": list, "layers": list}
_ITEM = {
    "tensors": ({"name": str, "shape": list, "kind": str}, {"view_of": str, "bits": int}),
    "ops": ({"name": str, "kind": str, "inputs": list, "outputs": list}, {"attrs": dict, "module": str}),
    "layers": ({"name": str, "ops": list}, {}),
}
_TYPE_NAMES = {int: "an integer", str: "a string", list: "a list", dict: "an object"}


def _check_fields(obj: Any, required: dict, optional: dict, where: str, problems: list[str]) -> bool:
    if not isinstance(obj, dict):
        problems.append(f"{where}: expected an object")
        return False
    ok = True
    for key, typ in {**required, **optional}.items():
        if key not in obj:
            if key in required:
                problems.append(f"{where}.{key}: missing")
                ok = False
        elif not isinstance(obj[key], typ) or (typ is int and isinstance(obj[key], bool)):
            problems.append(f"{where}.{key}: expected {_TYPE_NAMES[typ]}")
            ok = False
    for key in obj:
        if key not in required and key not in optional:
            problems.append(f"{where}.{key}: unknown key")
    return ok


def _check_structure(d: Any, problems: list[str]) -> None:
    if not _check_fields(d, _TOP, {"fuse": str}, "$", problems):
        return
    if d["schema_version"] != SCHEMA_VERSION:
        problems.append(f"$.schema_version: {d['schema_version']} is not supported (this hwsim reads "
                        f"version {SCHEMA_VERSION}); re-extract the graph with this hwsim")
    if d.get("fuse", "elementwise") not in FUSE_MODES:
        problems.append(f"$.fuse: {d['fuse']!r} is not one of {list(FUSE_MODES)}")
    for key in ("inputs", "outputs"):
        if not all(isinstance(x, str) for x in d[key]):
            problems.append(f"$.{key}: expected a list of tensor names")
    for section, (req, opt) in _ITEM.items():
        for i, item in enumerate(d[section]):
            where = f"$.{section}[{i}]"
            if not _check_fields(item, req, opt, where, problems):
                continue
            for key in ("shape",) if section == "tensors" else ("inputs", "outputs", "ops"):
                if key in item:
                    want, plural = (int, "integers") if key == "shape" else (str, "strings")
                    if not all(isinstance(x, want) and not isinstance(x, bool) for x in item[key]):
                        problems.append(f"{where}.{key}: expected a list of {plural}")


def _freeze(v: Any) -> Any:
    if isinstance(v, list):
        return tuple(_freeze(x) for x in v)
    if isinstance(v, dict):
        return {k: _freeze(x) for k, x in v.items()}
    return v


def graph_from_dict(d: dict[str, Any], where: str = "graph") -> Graph:
    """Build and validate a Graph from its JSON object; UserError lists every problem."""
    problems: list[str] = []
    _check_structure(d, problems)
    if problems:
        raise UserError("; ".join(problems), where)
    g = Graph(
        name=d["name"],
        tensors=tuple(Tensor(t["name"], tuple(t["shape"]), t["kind"], t.get("view_of"), t.get("bits"))
                      for t in d["tensors"]),
        ops=tuple(Op(o["name"], o["kind"], tuple(o["inputs"]), tuple(o["outputs"]),
                     _freeze(o.get("attrs", {})), o.get("module", "")) for o in d["ops"]),
        layers=tuple(Layer(la["name"], tuple(la["ops"])) for la in d["layers"]),
        inputs=tuple(d["inputs"]),
        outputs=tuple(d["outputs"]),
        fuse=d.get("fuse", "elementwise"),
    )
    problems = validate(g)
    if problems:
        more = f" (and {len(problems) - 20} more)" if len(problems) > 20 else ""
        raise UserError("; ".join(problems[:20]) + more, where)
    return g


class _NotStrictJson(ValueError):
    """Raised from the JSON decoder's hooks: a duplicate key or an overlong integer."""


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    d = dict(pairs)
    if len(d) != len(pairs):
        seen: set[str] = set()
        key = next(k for k, _ in pairs if k in seen or seen.add(k))
        raise _NotStrictJson(f"duplicate key {json.dumps(key)} in an object")
    return d


def _integer(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise _NotStrictJson(f"an integer of {len(text.lstrip('-'))} digits (at most {MAX_INT_DIGITS})")
    return int(text)


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether lists and objects nest more than ``limit`` deep (walked without recursion)."""
    stack = [(value, 1)]
    while stack:
        v, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(v, dict):
            stack.extend((x, depth + 1) for x in v.values())
        elif isinstance(v, list):
            stack.extend((x, depth + 1) for x in v)
    return False


def parse_graph_json(text: str, where: str) -> Any:
    """The JSON value of a graph file's text; UserError unless it is strict JSON nested at most MAX_DEPTH deep."""
    try:
        d = json.loads(text, object_pairs_hook=_object, parse_int=_integer)
    except json.JSONDecodeError as exc:
        hint = ""
        if Path(where).suffix.lower() in YAML_SUFFIXES:
            hint = " (this is a YAML file: the accelerator spec? Commands take the SPEC first, then the GRAPH)"
        raise UserError(f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}{hint}", where) from None
    except _NotStrictJson as exc:
        raise UserError(f"not valid JSON for hwsim: {exc}", where) from None
    except RecursionError:
        raise UserError(f"nested more than {MAX_DEPTH} levels deep", where) from None
    if _deeper_than(d, MAX_DEPTH):
        raise UserError(f"nested more than {MAX_DEPTH} levels deep", where)
    return d


def load_graph(path: str | os.PathLike) -> Graph:
    """Read, check and validate a graph file."""
    where = str(path)
    text = read_text(path, "a graph file (JSON)")
    return graph_from_dict(parse_graph_json(text, where), where)
