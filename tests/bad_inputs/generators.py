"""Files too big or too regular to write out in a case: each generator returns the file's text."""

from __future__ import annotations

import json

from tests.bad_inputs.bases import base_dict, base_text


def deep_json(depth: int) -> str:
    """A JSON array nested ``depth`` deep."""
    return "[" * depth + "]" * depth + "\n"


def deep_attrs(depth: int) -> str:
    """graph.json whose first op's ``stride`` is a list nested ``depth`` deep."""
    d = base_dict("graph.json")
    text = json.dumps(d)
    nested = "[" * depth + "1" + "]" * depth
    return text.replace('"stride": [1, 1]', f'"stride": {nested}', 1)


def view_chain(length: int, cycle: bool = False) -> str:
    """graph.json with ``length`` activations, each a view of the one before (the first a view of
    ``e1``, or of the last when ``cycle``), and the pooling after ``e1`` reading the last one."""
    d = base_dict("graph.json")
    names = [f"v{i}" for i in range(length)]
    for i, name in enumerate(names):
        base = (names[-1] if cycle else "e1") if i == 0 else names[i - 1]
        d["tensors"].append({"name": name, "shape": [1, 8, 16, 16], "kind": "activation", "view_of": base})
    d["ops"][1]["inputs"][0] = names[-1]
    return json.dumps(d)


def long_integer(digits: int, base: str = "graph.json") -> str:
    """graph.json with a tensor dimension of ``digits`` nines."""
    text = json.dumps(base_dict(base))
    return text.replace('"shape": [1, 4, 16, 16]', f'"shape": [1, 4, 16, {"9" * digits}]', 1)


def alias_bomb(levels: int, keys: list, prefix: str = "") -> str:
    """YAML whose ``keys`` (one per level) hold lists of 10 aliases of the level before:
    10**levels strings once expanded, a few hundred bytes as written."""
    lines = [prefix.rstrip("\n")] if prefix else []
    indent = "  " if prefix else ""
    lines.append(f"{indent}{keys[0]}: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]")
    for i in range(1, levels):
        lines.append(f"{indent}{keys[i]}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    return "\n".join(lines) + "\n"


def deep_yaml(depth: int, key: str = "name") -> str:
    """``KEY: [[[...]]]`` nested ``depth`` deep, in YAML flow style."""
    return f"{key}: " + "[" * depth + "]" * depth + "\n"


def spec_edit(old: str, head: str, body: str, times: int) -> str:
    """spec.yaml with ``old`` replaced by ``head`` and ``times`` copies of ``body`` (a value too
    long to write out)."""
    text = base_text("spec.yaml")
    assert old in text
    return text.replace(old, head + body * times, 1)


def long_name(length: int) -> str:
    """graph.json named with ``length`` letters."""
    d = base_dict("graph.json")
    d["name"] = "n" * length
    return json.dumps(d)


GENERATORS = {f.__name__: f for f in (deep_json, deep_attrs, view_chain, long_integer, alias_bomb, deep_yaml,
                                      spec_edit, long_name)}
