"""The attributes of each op kind, and the rule every one follows (type, arity, range).

A graph file written by hand can hold anything in ``attrs``; :func:`check_attrs` checks each
attribute against its rule before any shape rule does arithmetic with it, so that a stride
of 0, ``Infinity`` or ``[]`` is one clear problem with its JSON path, never a division by
zero. An attribute a kind does not take is refused too (a misspelt ``strides`` would
otherwise be ignored), and so is a missing required one.

Value rules (``ATTR_RULES``, one table for every kind; ``graphs/README.md`` lists them):

* ``integer(lo, hi)``: a JSON integer (not ``true``, not ``2.0``) in ``lo..hi``;
* ``pair(lo, hi)``: such an integer, or a list of 1 or 2 of them (height, width);
* ``integers(lo, hi)``: a list of such integers (``dims``, ``normalized_shape``);
* ``number(finite)``: a JSON number within float32 range (the numerics compute in float32),
  finite unless the attribute may mean "no bound" (``clamp``'s ``min``/``max``) or the
  max-norm (``vector_norm``'s ``ord``); ``positive`` for an ``eps``;
* ``boolean``, ``word(choices)``, ``text`` (a name);
* ``optional(rule)``: ``null`` or the rule;
* ``folded_bn``: what the extractor records of a batch norm folded into a convolution.

Integers are bounded by :data:`MAX_EXTENT` (2^31 - 1, a dimension hwsim accepts), so no
attribute makes an arithmetic result astronomically large. Rules between an attribute and
the input shapes (an axis within the rank, a factor dividing the channels) are the op
kind's shape rule (``opkinds.py``), checked after these.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from hwsim.graph.host import OPS_RULES as _HOST_RULES, SOURCES as _HOST_SOURCES, out_shapes_rule

MAX_EXTENT = 2**31 - 1
"""The largest tensor dimension, and the largest integer attribute, hwsim accepts."""
FLOAT32_MAX = 3.4028234663852886e38


@dataclass(frozen=True)
class Rule:
    """What one attribute must be: ``check(value)`` returns None or the reason it is not."""

    check: Callable[[Any], str | None]
    required: bool = False


def _show(value: Any) -> str:
    """The value as JSON, cut to 40 characters (a message shows it, never a huge list)."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def integer(lo: int, hi: int = MAX_EXTENT) -> Callable[[Any], str | None]:
    def check(v: Any) -> str | None:
        if _is_int(v) and lo <= v <= hi:
            return None
        return f"must be an integer from {lo} to {hi}, got {_show(v)}"
    return check


def pair(lo: int, hi: int = MAX_EXTENT) -> Callable[[Any], str | None]:
    def check(v: Any) -> str | None:
        items = v if isinstance(v, (list, tuple)) and 1 <= len(v) <= 2 else [v]
        if all(_is_int(x) and lo <= x <= hi for x in items):
            return None
        return f"must be an integer from {lo} to {hi} or a list of 1 or 2 of them, got {_show(v)}"
    return check


def integers(lo: int, hi: int = MAX_EXTENT, min_items: int = 0) -> Callable[[Any], str | None]:
    def check(v: Any) -> str | None:
        if isinstance(v, (list, tuple)) and min_items <= len(v) <= 8 and all(_is_int(x) and lo <= x <= hi for x in v):
            return None
        return f"must be a list of {min_items} to 8 integers from {lo} to {hi}, got {_show(v)}"
    return check


def number(finite: bool = True, positive: bool = False) -> Callable[[Any], str | None]:
    def check(v: Any) -> str | None:
        ok = _is_number(v) and not (isinstance(v, float) and math.isnan(v))
        ok = ok and (abs(v) <= FLOAT32_MAX or (not finite and math.isinf(v)))
        if ok and (not positive or v > 0):
            return None
        what = "a number above 0" if positive else "a number"
        limit = f" up to {FLOAT32_MAX:.4g}" if positive else f" from {-FLOAT32_MAX:.4g} to {FLOAT32_MAX:.4g}"
        return f"must be {what}{limit}{'' if finite else ', or Infinity, -Infinity'}, got {_show(v)}"
    return check


def boolean(v: Any) -> str | None:
    return None if isinstance(v, bool) else f"must be true or false, got {_show(v)}"


def word(*choices: str) -> Callable[[Any], str | None]:
    def check(v: Any) -> str | None:
        if v in choices and isinstance(v, str):
            return None
        return f"must be one of {', '.join(json.dumps(c) for c in choices)}, got {_show(v)}"
    return check


def text(v: Any) -> str | None:
    return None if isinstance(v, str) and len(v) <= 1024 else f"must be a string (up to 1024 characters), got {_show(v)}"


def optional(rule: Callable[[Any], str | None]) -> Callable[[Any], str | None]:
    def check(v: Any) -> str | None:
        if v is None:
            return None
        reason = rule(v)
        return None if reason is None else reason.replace("must be ", "must be null or ", 1)
    return check


MAX_INDICES = 65536
"""The most indices a ``gather`` holds (a constant index list written into the graph)."""


def index_list(v: Any) -> str | None:
    """A list of 1 to MAX_INDICES integers (a gather's indices; negative ones count from the end)."""
    if isinstance(v, (list, tuple)) and 1 <= len(v) <= MAX_INDICES and all(_is_int(x) and abs(x) <= MAX_EXTENT
                                                                            for x in v):
        return None
    return f"must be a list of 1 to {MAX_INDICES} integers, got {_show(v)}"


_BN_NAMES = ("weight", "bias", "mean", "var")


def folded_bn(v: Any) -> str | None:
    """``{mean, var, eps[, weight, bias]}``: parameter names and the epsilon."""
    expected = 'must be an object {"mean", "var", "eps"[, "weight", "bias"]} of parameter names and a number'
    if not isinstance(v, dict) or not {"mean", "var", "eps"} <= set(v) or not set(v) <= {*_BN_NAMES, "eps"}:
        return f"{expected}, got {_show(v)}"
    if not all(isinstance(v[k], str) for k in _BN_NAMES if k in v):
        return f"{expected}, got {_show(v)}"
    reason = number(positive=True)(v["eps"])
    return None if reason is None else f"eps {reason}"


def _r(check: Callable[[Any], str | None], required: bool = False) -> Rule:
    return Rule(check, required)


_CONV = {"stride": _r(pair(1)), "padding": _r(pair(0)), "dilation": _r(pair(1)), "groups": _r(integer(1)),
         "folded_bn": _r(folded_bn), "folded_bias_is_new": _r(boolean), "folded_bn_module": _r(text)}
_WINDOW = {"kernel_size": _r(pair(1), True), "dilation": _r(pair(1)), "padding": _r(pair(0)), "stride": _r(pair(1))}
_POOL = {"kernel_size": _r(pair(1), True), "stride": _r(optional(pair(1))), "padding": _r(pair(0)),
         "ceil_mode": _r(boolean)}
_BINARY = {"scalar": _r(number()), "alpha": _r(number()), "reverse": _r(boolean)}
_REDUCE = {"dims": _r(optional(integers(-MAX_EXTENT))), "keepdim": _r(boolean)}
_AXIS = integer(-MAX_EXTENT)


def _scales(v: Any) -> str | None:
    if isinstance(v, (list, tuple)) and 1 <= len(v) <= 2 and all(number(positive=True)(x) is None for x in v):
        return None
    return f"must be a list of 1 or 2 numbers above 0, got {_show(v)}"


_RESIZE = {"size": _r(pair(1), True), "scales": _r(optional(_scales))}


ATTR_RULES: Mapping[str, Mapping[str, Rule]] = {
    "conv2d": _CONV,
    "conv_transpose2d": {**_CONV, "output_padding": _r(pair(0))},
    "linear": {},
    "matmul": {},
    "unfold": _WINDOW,
    "pixel_shuffle": {"factor": _r(integer(1), True)},
    "pixel_unshuffle": {"factor": _r(integer(1), True)},
    "upsample_nearest2d": _RESIZE,
    "upsample_bilinear2d": {**_RESIZE, "align_corners": _r(boolean)},
    "max_pool2d": {**_POOL, "dilation": _r(pair(1))},
    "avg_pool2d": {**_POOL, "count_include_pad": _r(boolean)},
    "adaptive_avg_pool2d": {"output_size": _r(pair(1), True)},
    "concat": {"axis": _r(_AXIS, True)},
    "slice": {"axis": _r(_AXIS, True), "start": _r(integer(-MAX_EXTENT), True),
              "end": _r(integer(-MAX_EXTENT), True), "step": _r(integer(1))},
    **{k: {} for k in ("relu", "sigmoid", "tanh", "sqrt", "rsqrt", "neg", "exp", "abs", "silu", "hardswish",
                       "hardsigmoid", "sin", "cos")},
    "gelu": {"approximate": _r(word("none", "tanh"))},
    "clamp": {"min": _r(optional(number(finite=False))), "max": _r(optional(number(finite=False)))},
    "leaky_relu": {"negative_slope": _r(number())},
    "pow": {"exponent": _r(number(), True)},
    **{k: _BINARY for k in ("add", "sub", "mul", "div", "maximum", "minimum")},
    "mean": _REDUCE,
    "sum": _REDUCE,
    "vector_norm": {**_REDUCE, "ord": _r(number(finite=False))},
    "softmax": {"dim": _r(_AXIS, True)},
    "layer_norm": {"normalized_shape": _r(integers(1, min_items=1), True), "eps": _r(number(positive=True))},
    "batch_norm": {"eps": _r(number(positive=True))},
    "permute": {"dims": _r(integers(-MAX_EXTENT), True)},
    # issue 13's kinds (rules in opkinds_more.py)
    "pad": {"pads": _r(integers(-MAX_EXTENT, min_items=2), True), "mode": _r(word("constant", "reflect", "replicate",
                                                                                 "circular")),
            "value": _r(number())},
    "upsample_bicubic2d": {**_RESIZE, "align_corners": _r(boolean)},
    "adaptive_max_pool2d": {"output_size": _r(pair(1), True)},
    "gather": {"axis": _r(_AXIS, True), "indices": _r(index_list, True)},
    **{k: {} for k in ("mish", "logical_not")},
    "softplus": {"beta": _r(number()), "threshold": _r(number())},
    **{k: {"scalar": _r(number()), "reverse": _r(boolean)} for k in ("gt", "lt", "ge", "le", "eq", "ne",
                                                                      "logical_and", "logical_or")},
    "prelu": {},
    "where": {"scalar_x": _r(number(finite=False)), "scalar_y": _r(number(finite=False))},
    "amax": _REDUCE,
    "amin": _REDUCE,
    "group_norm": {"num_groups": _r(integer(1), True), "eps": _r(number(positive=True))},
    "flip": {"dims": _r(integers(-MAX_EXTENT, min_items=1), True)},
    "roll": {"dims": _r(integers(-MAX_EXTENT, min_items=1), True), "shifts": _r(integers(-MAX_EXTENT, min_items=1),
                                                                                  True)},
    "host": {"op": _r(text, True), "source": _r(word(*_HOST_SOURCES)), "node": _r(text),
             "out_shapes": _r(out_shapes_rule, True), "ops": _r(integer(0, 2**62), True),
             "ops_rule": _r(word(*_HOST_RULES)), "reason": _r(text)},
}
"""Op kind -> attribute name -> rule. Every op kind of ``opkinds.OP_KINDS`` has an entry."""


def check_attrs(kind: str, attrs: Any, where: str) -> list[str]:
    """Every problem of an op's ``attrs`` (``where`` is the op's JSON path); empty when they follow the rules."""
    rules = ATTR_RULES[kind]
    if not isinstance(attrs, Mapping):
        return [f"{where}.attrs: expected an object"]
    problems = []
    for name, value in attrs.items():
        rule = rules.get(name)
        if rule is None:
            takes = f"takes {', '.join(sorted(rules))}" if rules else "takes no attributes"
            problems.append(f"{where}.attrs.{name}: not an attribute of {kind} ({kind} {takes})")
        elif (reason := rule.check(value)) is not None:
            problems.append(f"{where}.attrs.{name}: {reason}")
    for name, rule in rules.items():
        if rule.required and name not in attrs:
            problems.append(f"{where}.attrs.{name}: missing ({kind} needs it)")
    return problems
