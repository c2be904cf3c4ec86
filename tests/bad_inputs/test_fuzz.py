"""Fuzzing the graph and spec loaders with structure-aware mutations of valid files (Hypothesis).

Each example takes a valid file (a base graph of ``bases.py``, or ``data/spec.yaml``) and
changes it the way a hand edit can go wrong: a value replaced by one of another type or an
extreme number, a key dropped or added, a list item dropped or doubled, a name pointed at
another tensor, then maybe the text cut short, a line doubled or a character inserted. Graphs
go through ``hwsim info`` in this process (loading and the analysis), specs through
``load_spec``; either loads, and then keeps its invariants, or fails with a UserError that
the CLI prints as one ``hwsim: error:`` line with exit 2. Any other exception fails.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, event, given, settings, strategies as st

from hwsim.cli import main
from hwsim.errors import UserError
from hwsim.graph.attrs import ATTR_RULES
from hwsim.graph.io import load_graph
from hwsim.spec import load_spec, spec_from_dict, spec_to_dict
from hwsim.spec.schema import FIELDS, parse_value
from hwsim.units import SIZE_UNITS
from tests.bad_inputs.bases import base_dict, base_text

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

EXTREME_INTS = [0, -1, 1, 2, 3, 7, 2**31 - 1, 2**31, 2**40 + 1, 2**63, 10**30, 10**31, -(10**30)]
EXTREME_FLOATS = [0.0, -0.0, 0.5, -2.5, 1e-300, 1e300, 1e39, float("inf"), float("-inf"), float("nan")]
ODD_CHARS = "\n\t\x00\x1b\u202e\u2028\"'\\:{}[],&*!#%@`|>- x9é"
UNITS = sorted({*SIZE_UNITS, "GB/s", "KiB/s", "Hz", "MHz", "GHz", "s", "ns", "ps", "ms", "J", "pJ", "fJ", "uJ",
                "mW/MiB", "W/B", "nW/TiB", "KB", "Mb", ""})

scalars = st.one_of(
    st.none(), st.booleans(), st.sampled_from(EXTREME_INTS), st.integers(-(2**70), 2**70),
    st.sampled_from(EXTREME_FLOATS), st.floats(allow_nan=True, allow_infinity=True),
    st.text(alphabet=st.sampled_from(ODD_CHARS + "abcxyz0123456789_."), max_size=12),
)
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=3)), max_leaves=8)
quantities = st.builds(
    lambda sign, digits, exponent, unit: f"{sign}{digits}{exponent} {unit}".strip(),
    st.sampled_from(["", "-", "+"]), st.sampled_from(["1", "0", "12.8", ".5", "999999999999", "3.0000001"]),
    st.sampled_from(["", "e3", "e-9", "e400", "e-400", "e99999", "E12"]), st.sampled_from(UNITS))
yaml_values = st.one_of(quantities, json_values)
known_keys = sorted({k for rules in ATTR_RULES.values() for k in rules} | {"view_of", "module", "fuse", "x"})


def _paths(doc, prefix=()):
    """Every path (tuple of keys and indices) to a value inside ``doc``."""
    found = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            found += _paths(v, prefix + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            found += _paths(v, prefix + (i,))
    return found


def _get(doc, path):
    for key in path:
        doc = doc[key]
    return doc


def _names(doc) -> list[str]:
    return sorted({v for p in _paths(doc) if isinstance(v := _get(doc, p), str)}) or ["x"]


def mutate(data, doc, values):
    """One hand edit of ``doc`` (in place, or the new root), drawn from ``data``."""
    paths = _paths(doc)
    path = data.draw(st.sampled_from(paths))
    target = _get(doc, path)
    parent, key = (_get(doc, path[:-1]), path[-1]) if path else (None, None)
    edit = data.draw(st.sampled_from(["replace", "drop", "double", "add_key", "rename", "scale"]))
    if parent is None:
        return data.draw(values) if edit == "replace" else doc
    if edit == "replace":
        parent[key] = data.draw(values)
    elif edit == "drop":
        del parent[key]
    elif edit == "double" and isinstance(parent, list):
        parent.insert(key, json.loads(json.dumps(target)))
    elif edit == "add_key" and isinstance(target, dict):
        target[data.draw(st.sampled_from(known_keys))] = data.draw(values)
    elif edit == "rename" and isinstance(target, str):
        parent[key] = data.draw(st.sampled_from(_names(doc)))
    elif edit == "scale" and isinstance(target, (int, float)) and not isinstance(target, bool):
        factor = data.draw(st.sampled_from([-1, 0, 2, 1000, 2**31, 0.5]))
        parent[key] = target * factor if math.isfinite(target * factor) else target
    return doc


def text_edit(data, text: str) -> str:
    edit = data.draw(st.sampled_from(["none", "none", "cut", "insert", "double_line"]))
    at = data.draw(st.integers(0, len(text)))
    if edit == "cut":
        return text[:at]
    if edit == "insert":
        return text[:at] + data.draw(st.sampled_from(ODD_CHARS)) + text[at:]
    if edit == "double_line":
        lines = text.splitlines(keepends=True)
        i = data.draw(st.integers(0, len(lines) - 1))
        return "".join(lines[:i + 1] + lines[i:])
    return text


def assert_one_clean_line(code: int, err: str) -> None:
    assert "Traceback" not in err
    assert (code, err) == (0, "") or (code == 2 and err.startswith("hwsim: error: ") and err.count("\n") == 1), err


@contextlib.contextmanager
def scratch():
    with tempfile.TemporaryDirectory() as d:
        yield Path(d)


@FUZZ
@given(st.data(), st.sampled_from(["graph.json", "all_kinds.json"]))
def test_a_mutated_graph_loads_or_fails_with_one_line(data, base):
    doc = base_dict(base)
    for _ in range(data.draw(st.integers(1, 3))):
        doc = mutate(data, doc, json_values)
    text = text_edit(data, json.dumps(doc))
    with scratch() as d:
        path = d / "g.json"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["info", str(path), "--json"])
        assert_one_clean_line(code, err.getvalue())
        event("loaded" if code == 0 else "refused")
        if code == 0:  # it loaded: the graph holds its invariants and writes back as it was read
            assert json.loads(out.getvalue())["ops"] == len(load_graph(path).ops)


def _in_range(key: str, value) -> bool:
    """The loaded value lies within the field's documented range (checked by parsing it again)."""
    field = FIELDS[key]
    return field.low is None or value == 0 or parse_value(key, field.low) <= value <= parse_value(key, field.high)


@FUZZ
@given(st.data())
def test_a_mutated_spec_loads_or_fails_with_one_line(data):
    doc = yaml.safe_load(base_text("spec.yaml"))
    for _ in range(data.draw(st.integers(1, 3))):
        doc = mutate(data, doc, yaml_values)
    text = text_edit(data, yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))
    if data.draw(st.booleans()):  # anchors and aliases, as a bomb is written
        text = f"x0: &a [{', '.join(['lol'] * 10)}]\n" + text.replace("npu", "*a", 1)
    with scratch() as d:
        path = d / "spec.yaml"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            spec = load_spec(path)
        except UserError as exc:  # what the CLI prints as one line (escaped), naming the file
            assert str(exc).startswith(f"{path}: "), str(exc)
            event("refused")
            return
    event("loaded")
    again = spec_to_dict(spec)
    assert spec_from_dict(again) == spec  # writes back as it was read
    flat = {"clock": spec.clock_hz, "sram.size": spec.sram.size_bytes, "dram.latency": spec.dram.latency_s,
            "dram.bandwidth": spec.dram.bandwidth_bytes_per_s, "dram.channels": spec.dram.channels,
            "policy.prefetch": spec.policy.prefetch, "compute.macs_per_cycle": spec.compute.macs_per_cycle}
    assert all(_in_range(k, v) for k, v in flat.items()), flat
