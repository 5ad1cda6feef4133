"""Composing an untrusted YAML quota file within bounds.

The document is composed (a node graph, where an alias is one shared node) and never
constructed until it has been measured: more than `max_nodes` nodes with every alias counted as
the nodes it stands for, an alias inside its own anchor, or nesting deeper than the composer's
recursion are each a ConfigError naming the file and line. A "billion laughs" file therefore
costs one visit per distinct node, microseconds, instead of gigabytes.

Then every node is checked once (`_check_values`), so that whatever part of the file a reader
later constructs, nothing on the way can raise anything but ConfigError at the node's line and
field: a tag other than YAML's standard ones (`!!python/object/apply:...`, `!custom`) is
refused, as is a list or mapping used as a key, and every scalar must construct (an integer of
more digits than Python converts, sys.get_int_max_str_digits; a `!!timestamp` that is no date;
bad `!!binary`). A character escape past Unicode is caught while composing, at its line.
"""

from __future__ import annotations

import sys

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from quota_sidecar.domain.errors import ConfigError

__all__ = ["MAX_NODES", "compose_bounded", "load_bounded", "shown"]

# Nodes in the document with every alias expanded. A quota takes 10-30 nodes, so this leaves
# room for tens of thousands of quotas and refuses alias bombs long before they hurt.
MAX_NODES = 1_000_000
SHOWN_CHARS = 60  # characters of a bad value quoted back in an error message


def shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= SHOWN_CHARS else f"{text[:SHOWN_CHARS]}... ({len(text)} characters)"


def compose_bounded(text: str, source: str, max_nodes: int = MAX_NODES) -> Node | None:
    """The document's root node (None when empty), or ConfigError."""
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        message = f"is not valid YAML: {exc.problem or exc.context}"
        raise ConfigError("yaml", message, source=source, line=line) from None
    except yaml.YAMLError as exc:
        raise ConfigError("yaml", f"is not valid YAML: {exc}", source=source) from None
    except RecursionError:  # PyYAML's composer recurses once per nesting level
        raise ConfigError("yaml", "is nested too deeply", source=source, line=1) from None
    except (ValueError, OverflowError) as exc:  # the scanner's chr() of an escape past Unicode
        message = f"is not valid YAML: {shown(str(exc))}"
        line = loader.get_mark().line + 1
        raise ConfigError("yaml", message, source=source, line=line) from None
    finally:
        loader.dispose()
    if root is not None:
        _check_size(root, source, max_nodes)
        _check_values(root, source)
    return root


def load_bounded(text: str, source: str) -> object:
    """The document as plain Python values (what yaml.safe_load gives), composed and checked
    within the same bounds first, so it raises nothing but ConfigError."""
    root = compose_bounded(text, source)
    if root is None:
        return None
    try:
        return SafeConstructor().construct_document(root)
    except (yaml.YAMLError, ValueError, TypeError, ArithmeticError, RecursionError) as exc:
        # What _check_values cannot see alone, such as two equal keys of a `!!set`.
        message = f"is not a value a quota file can hold: {shown(str(exc))}"
        raise ConfigError("yaml", message, source=source, line=root.start_mark.line + 1) from None


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


_KNOWN_TAGS = frozenset(tag for tag in SafeConstructor.yaml_constructors if tag is not None)
# `<<: *base` and `=`: keys with a meaning of their own, never constructed alone.
_KEY_TAGS = frozenset({"tag:yaml.org,2002:merge", "tag:yaml.org,2002:value"})


def _check_values(root: Node, source: str) -> None:
    """Refuse unknown tags, non-scalar keys and scalars that do not construct, each at its line
    and field path ("quotas[0].rate_limits.requests_per_minute"); each distinct node once."""
    constructor = SafeConstructor()
    seen: set[int] = set()
    stack: list[tuple[Node, str]] = [(root, "")]
    while stack:
        node, path = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        field = path or "(top level)"
        if node.tag not in _KNOWN_TAGS:
            tag = node.tag.replace("tag:yaml.org,2002:", "!!")
            raise _error(field, f"has a tag this file cannot use: {shown(tag)}", node, source)
        if isinstance(node, ScalarNode):
            _check_scalar(constructor, node, field, source)
        elif isinstance(node, SequenceNode):
            stack.extend((item, f"{path}[{i}]") for i, item in enumerate(node.value))
        elif isinstance(node, MappingNode):
            for key, value in node.value:
                if not isinstance(key, ScalarNode):
                    raise _error(field, "has a list or mapping as a key", key, source)
                if key.tag not in _KEY_TAGS:
                    stack.append((key, f"{path}.{key.value}" if path else key.value))
                stack.append((value, f"{path}.{key.value}" if path else key.value))


def _check_scalar(constructor: SafeConstructor, node: ScalarNode, field: str, source: str) -> None:
    try:
        value = constructor.construct_object(node)
        if isinstance(value, int):
            str(value)  # 0x... of 5000 digits constructs, and then cannot be printed
    except ValueError as exc:
        if node.tag == "tag:yaml.org,2002:int":
            digits = sys.get_int_max_str_digits()
            message = f"is a whole number of more than {digits} digits"
        else:
            message = f"is not a valid value: {shown(str(exc))}"
        raise _error(field, message, node, source) from None
    except (yaml.YAMLError, TypeError, ArithmeticError) as exc:
        problem = exc.problem if isinstance(exc, yaml.MarkedYAMLError) else str(exc)
        raise _error(field, f"is not a valid value: {shown(problem)}", node, source) from None


def _error(field: str, message: str, node: Node, source: str) -> ConfigError:
    return ConfigError(field, message, source=source, line=node.start_mark.line + 1)
