"""Composing an untrusted YAML quota file within bounds.

The document is composed (a node graph, where an alias is one shared node) and never
constructed until it has been measured: more than `max_nodes` nodes with every alias counted as
the nodes it stands for, an alias inside its own anchor, or nesting deeper than the composer's
recursion are each a ConfigError naming the file and line. A "billion laughs" file therefore
costs one visit per distinct node, microseconds, instead of gigabytes.
"""

from __future__ import annotations

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

from quota_sidecar.errors import ConfigError

__all__ = ["MAX_NODES", "compose_bounded", "shown"]

# Nodes in the document with every alias expanded. A quota takes 10-30 nodes, so this leaves
# room for tens of thousands of quotas and refuses alias bombs long before they hurt.
MAX_NODES = 1_000_000
SHOWN_CHARS = 60  # characters of a bad value quoted back in an error message


def shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= SHOWN_CHARS else f"{text[:SHOWN_CHARS]}... ({len(text)} characters)"


def compose_bounded(text: str, source: str, max_nodes: int = MAX_NODES) -> Node | None:
    """The document's root node (None when empty), or ConfigError."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        message = f"is not valid YAML: {exc.problem or exc.context}"
        raise ConfigError("yaml", message, source=source, line=line) from None
    except yaml.YAMLError as exc:
        raise ConfigError("yaml", f"is not valid YAML: {exc}", source=source) from None
    except RecursionError:  # PyYAML's composer recurses once per nesting level
        raise ConfigError("yaml", "is nested too deeply", source=source, line=1) from None
    if root is not None:
        _check_size(root, source, max_nodes)
    return root


def _check_size(root: Node, source: str, max_nodes: int) -> None:
    """Refuse a document whose aliases expand past `max_nodes`, or that contains itself.

    Counts each node's expanded size once (memoised by identity, iteratively, so neither the
    alias fan-out nor the nesting depth costs more than one visit per distinct node)."""
    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if children_done:
            on_path.discard(key)
            size = 1 + sum(sizes[id(child)] for child in _children(node))
            if size > max_nodes:
                raise ConfigError(
                    "yaml",
                    f"expands to more than {max_nodes} nodes once its aliases (*name) are "
                    "expanded; a quota file needs far fewer",
                    source=source,
                    line=node.start_mark.line + 1,
                )
            sizes[key] = size
            continue
        if key in sizes:
            continue
        if key in on_path:
            raise ConfigError(
                "yaml", "an alias refers to the node that contains it", source=source,
                line=node.start_mark.line + 1,
            )  # fmt: skip
        on_path.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in sizes)


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    return []
