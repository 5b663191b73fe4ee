"""YAML as configs need it: a key given twice is an error (plain YAML keeps the last silently), and a document is
bounded in size and in what its aliases expand to (a few lines of nested aliases can stand for billions of nodes)."""

from __future__ import annotations

from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, SequenceNode

MAX_CHARACTERS = 4 * 2**20
MAX_NODES = 100_000
"""Nodes a document may hold once its aliases are expanded (the largest config has a few hundred)."""


def expanded_nodes(node: Node, sizes: dict[int, int], limit: int) -> int:
    """How many nodes ``node`` stands for with every alias expanded (counted once per node, stops past ``limit``)."""
    if id(node) in sizes:
        return sizes[id(node)]
    sizes[id(node)] = limit + 1  # a node reached again while being counted: a cycle expands without end
    children = []
    if isinstance(node, SequenceNode):
        children = node.value
    elif isinstance(node, MappingNode):
        children = [child for pair in node.value for child in pair]
    total = 1
    for child in children:
        total += expanded_nodes(child, sizes, limit)
        if total > limit:
            break
    sizes[id(node)] = total
    return total


class StrictLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses duplicate keys and documents expanding past :data:`MAX_NODES` nodes."""

    def construct_document(self, node: Node) -> Any:
        if expanded_nodes(node, {}, MAX_NODES) > MAX_NODES:
            raise ConstructorError(None, None, f"the document expands to more than {MAX_NODES} values through its "
                                               "aliases (&anchor / *alias); write the values out", node.start_mark)
        return super().construct_document(node)

    def construct_mapping(self, node: Node, deep: bool = False) -> Any:
        if isinstance(node, MappingNode):
            first_line: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=deep)
                try:
                    hash(key)
                except TypeError:  # an unhashable key: the base constructor reports it
                    continue
                if key in first_line:
                    raise ConstructorError(None, None, f"the key {key!r} is given twice (first on line "
                                                       f"{first_line[key] + 1}); keep one", key_node.start_mark)
                first_line[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep)


def load_strict(text: str) -> Any:
    """The YAML document in ``text`` (``yaml.YAMLError`` for bad syntax, duplicate keys, alias bombs; ValueError for
    a document over :data:`MAX_CHARACTERS` characters)."""
    if len(text) > MAX_CHARACTERS:
        raise ValueError(f"{len(text)} characters; a config holds at most {MAX_CHARACTERS}")
    return yaml.load(text, Loader=StrictLoader)  # noqa: S506 - a SafeLoader subclass
