"""Reading an accelerator YAML file safely, with duplicate keys reported, not dropped.

PyYAML keeps the last of two equal keys without a word; :class:`DuplicateKeyLoader` records
each duplicate with its lines so the loader can report it with the other problems. Every
failure to read (missing file, directory, not UTF-8, invalid YAML) is one
:class:`~hwsim.errors.UserError` naming the file, with the YAML line for syntax errors.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from hwsim.errors import UserError


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


def _read_text(path: Path, where: str) -> str:
    if path.is_dir():
        raise UserError("is a directory, expected an accelerator YAML file", where)
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError("no such file", where) from None
    except UnicodeDecodeError:
        raise UserError("not a UTF-8 text file", where) from None
    except OSError as err:
        raise UserError(f"cannot read: {err.strerror or err}", where) from None


def _yaml_error(err: yaml.YAMLError) -> str:
    if isinstance(err, yaml.MarkedYAMLError):
        mark = err.problem_mark or err.context_mark
        reason = err.problem or err.context or "syntax error"
        if mark is not None:
            return f"invalid YAML at line {mark.line + 1}, column {mark.column + 1}: {reason}"
        return f"invalid YAML: {reason}"
    return f"invalid YAML: {err}"


def read_yaml(path: Path, where: str) -> tuple[object, list[str]]:
    """Parse one YAML document safely; returns the data and duplicate-key problems."""
    loader = DuplicateKeyLoader(_read_text(path, where))
    try:
        node = loader.get_single_node()
        paths = _node_paths(node) if node is not None else {}
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as err:
        raise UserError(_yaml_error(err), where) from None
    finally:
        loader.dispose()
    problems = []
    for mapping, key, first, line in loader.duplicate_keys:
        parent = paths.get(id(mapping), "")
        dotted = f"{parent}.{key}" if parent else key
        problems.append(f"{dotted}: duplicate key (lines {first} and {line})")
    return data, problems
