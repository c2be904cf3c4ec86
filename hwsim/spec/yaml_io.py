"""Reading YAML safely (accelerator specs, grid files, ``--set`` values), duplicate keys reported.

Every YAML hwsim reads goes through :func:`load_yaml_text`: PyYAML's safe loader (no Python
objects), with

* duplicate keys recorded with their lines (PyYAML keeps the last of two equal keys without
  a word) so the loader can report them with the other problems;
* aliases limited: the document is composed first (aliases are shared nodes, so this costs
  what the text costs) and refused if, with every alias expanded, it would hold more than
  :data:`MAX_NODES` values, nest more than :data:`MAX_DEPTH` deep, or hold itself (a
  recursive alias): a "billion laughs" file is refused before anything expands it;
* values that cannot be built (an integer of more than :data:`MAX_INT_DIGITS` digits, a
  timestamp such as ``2001-13-01``) reported with their line.

:func:`read_yaml` reads a regular file first (``files.read_text``: a FIFO or a device is
refused, not waited on). Every failure is one :class:`~hwsim.errors.UserError` naming the
file, with the YAML line for syntax errors.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from hwsim.errors import UserError
from hwsim.files import read_text

MAX_NODES = 100_000
MAX_DEPTH = 32
MAX_INT_DIGITS = 100


class DuplicateKeyLoader(yaml.SafeLoader):
    """A SafeLoader that records duplicate mapping keys (PyYAML silently keeps the last).

    ``duplicate_keys`` holds ``(mapping node, key, first line, duplicate line)``, lines
    counted from 1. Merge keys (``<<``) are not duplicates.
    """

    def __init__(self, stream: str):
        super().__init__(stream)
        self.duplicate_keys: list[tuple[yaml.MappingNode, str, int, int]] = []

    def construct_mapping(self, node: yaml.Node, deep: bool = False) -> dict:
        if isinstance(node, yaml.MappingNode):
            first_line: dict[tuple[str, str], int] = {}
            for key_node, _ in node.value:
                if not isinstance(key_node, yaml.ScalarNode) or key_node.tag.endswith(":merge"):
                    continue
                ident, line = (key_node.tag, key_node.value), key_node.start_mark.line + 1
                if ident in first_line:
                    self.duplicate_keys.append((node, key_node.value, first_line[ident], line))
                else:
                    first_line[ident] = line
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        digits = sum(c.isalnum() for c in str(node.value))
        if digits > MAX_INT_DIGITS:
            raise yaml.constructor.ConstructorError(
                None, None, f"an integer of {digits} digits (at most {MAX_INT_DIGITS})", node.start_mark)
        return super().construct_yaml_int(node)

    def construct_object(self, node: yaml.Node, deep: bool = False) -> object:
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, OverflowError) as err:  # a timestamp 2001-13-01, ...
            value = node.value if isinstance(node, yaml.ScalarNode) else node.tag
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read {value!r}: {err}", node.start_mark) from None


DuplicateKeyLoader.add_constructor("tag:yaml.org,2002:int", DuplicateKeyLoader.construct_yaml_int)


def _too_deep(text: str) -> bool:
    """Whether collections nest more than MAX_DEPTH deep, read from the parser's events (no
    recursion, and it stops at the first level too deep: PyYAML's scanner slows down with
    the square of the depth of flow collections, and its composer recurses per level)."""
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                return True
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
    return False


def _expansion_problem(root: yaml.Node) -> str | None:
    """Why ``root``, with its aliases expanded, is too big, too deep or holds itself; or None.

    Sizes are counted once per node (memoised, iteratively), so a bomb of 10**9 values
    written in a few hundred bytes is measured in a few hundred steps.
    """
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        children = _children(node)
        if done:
            on_path.discard(key)
            size[key] = 1 + sum(size[id(c)] for c in children)
            depth[key] = 1 + max((depth[id(c)] for c in children), default=0)
            if size[key] > MAX_NODES:
                return f"more than {MAX_NODES} values once its aliases are expanded"
            if depth[key] > MAX_DEPTH:
                return f"nested more than {MAX_DEPTH} levels deep"
            continue
        if key in size:
            continue
        if key in on_path:
            return f"an alias at line {node.start_mark.line + 1} refers to a node that holds it"
        on_path.add(key)
        stack.append((node, True))
        stack.extend((c, False) for c in children if id(c) not in size)
    return None


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _node_paths(root: yaml.Node) -> dict[int, str]:
    """Dotted path of every mapping node in a composed YAML tree, by node identity.

    Each node is visited once, so aliases (even recursive ones) cost nothing extra; a node
    reached by several aliases keeps its first path.
    """
    paths: dict[int, str] = {}
    stack: list[tuple[yaml.Node, str]] = [(root, "")]
    while stack:
        node, path = stack.pop()
        if id(node) in paths:
            continue
        paths[id(node)] = path
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in reversed(node.value):
                key = key_node.value if isinstance(key_node, yaml.ScalarNode) else "?"
                stack.append((value_node, f"{path}.{key}" if path else key))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((item, f"{path}[{i}]") for i, item in enumerate(node.value))
    return paths


def _yaml_error(err: yaml.YAMLError, text: str) -> str:
    if isinstance(err, yaml.reader.ReaderError) and isinstance(err.character, int):
        line = text.count("\n", 0, err.position) + 1
        column = err.position - text.rfind("\n", 0, err.position)
        return f"invalid YAML at line {line}, column {column}: the character U+{err.character:04X} is not allowed"
    if isinstance(err, yaml.MarkedYAMLError):
        mark = err.problem_mark or err.context_mark
        reason = err.problem or err.context or "syntax error"
        if mark is not None:
            return f"invalid YAML at line {mark.line + 1}, column {mark.column + 1}: {reason}"
        return f"invalid YAML: {reason}"
    return f"invalid YAML: {err}"


def read_yaml(path: Path, where: str, what: str = "an accelerator YAML file") -> tuple[object, list[str]]:
    """Read a regular file and parse it with :func:`load_yaml_text`."""
    return load_yaml_text(read_text(path, what), where)


def load_yaml_text(text: str, where: str) -> tuple[object, list[str]]:
    """Parse one YAML document safely (see the module docstring); the data and duplicate-key problems."""
    loader = None
    try:
        loader = DuplicateKeyLoader(text)  # checks that every character is printable
        if _too_deep(text):
            raise UserError(f"nested more than {MAX_DEPTH} levels deep", where)
        node = loader.get_single_node()
        problem = _expansion_problem(node) if node is not None else None
        if problem is not None:
            raise UserError(problem, where)
        paths = _node_paths(node) if node is not None else {}
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as err:
        raise UserError(_yaml_error(err, text), where) from None
    except RecursionError:  # cannot happen after _too_deep; the composer recurses per level
        raise UserError(f"nested more than {MAX_DEPTH} levels deep", where) from None
    finally:
        if loader is not None:
            loader.dispose()
    problems = []
    for mapping, key, first, line in loader.duplicate_keys:
        parent = paths.get(id(mapping), "")
        dotted = f"{parent}.{key}" if parent else key
        problems.append(f"{dotted}: duplicate key (lines {first} and {line})")
    return data, problems
