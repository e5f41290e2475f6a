"""YAML as the profiles mean it: strict, with errors that name the file and the line.

PyYAML's ``safe_load`` keeps the last of two equal keys without a word,
reads ``1e-3`` as the *string* ``'1e-3'`` (YAML 1.1 wants a dot), and
reports a syntax error against ``<unicode string>``. :func:`read_yaml`
and :func:`parse_value` refuse duplicated keys, read exponent numbers as
floats, and name the file (or the ``--set`` value) in every error.
"""

import re
from pathlib import Path

import yaml

FLOAT_TAG = "tag:yaml.org,2002:float"
# Exponent numbers without a dot (1e-3, 1E5, .5e-2, -2e-4), which YAML 1.1's float pattern misses.
EXPONENT_FLOAT = re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$")


class YamlError(ValueError):
    """A YAML file or value that is not what a profile may hold (named in the message)."""


class _DuplicateKey(yaml.MarkedYAMLError):
    def __init__(self, key, first, second):
        super().__init__(problem=f"key {key!r} appears twice", problem_mark=second)
        self.key, self.first, self.second = key, first, second


class StrictLoader(yaml.SafeLoader):
    """``SafeLoader`` that reads ``1e-3`` as a float and refuses a key given twice in one mapping."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge" or not isinstance(key_node, yaml.ScalarNode):
                    continue  # merges may repeat keys on purpose; unhashable keys fail in PyYAML itself
                key = self.construct_object(key_node)
                if key in seen:
                    raise _DuplicateKey(key, seen[key], key_node.start_mark)
                seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)


StrictLoader.add_implicit_resolver(FLOAT_TAG, EXPONENT_FLOAT, list("-+0123456789."))


def _describe(err, source):
    """A PyYAML error as one line naming ``source`` and the line (1-based) where it was found."""
    if isinstance(err, _DuplicateKey):
        first, second = err.first, err.second
        where = (f"on line {first.line + 1} (columns {first.column + 1} and {second.column + 1})"
                 if first.line == second.line else f"on line {first.line + 1} and on line {second.line + 1}")
        return f"{source}: key {err.key!r} appears twice, {where}; give each key once."
    mark, context = getattr(err, "problem_mark", None), getattr(err, "context_mark", None)
    mark = mark or context
    where = f", line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    parts = [getattr(err, "context", None), getattr(err, "problem", None)]
    if parts[0] and context is not None and context.line != mark.line:
        parts[0] += f" (from line {context.line + 1})"
    problem = " ".join(str(part) for part in parts if part)
    hint = "; YAML indents with spaces, never tabs" if "\\t" in problem or "\t" in problem else ""
    return f"{source}{where}: not valid YAML ({problem or err}){hint}."


def _load(text, source):
    try:
        return yaml.load(text, Loader=StrictLoader)  # noqa: S506 - StrictLoader is a SafeLoader
    except yaml.YAMLError as err:
        raise YamlError(_describe(err, source)) from err


def read_yaml(path):
    """The mapping a YAML file holds (an empty file: ``{}``), or :class:`YamlError` naming the file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise YamlError(f"{path}: not UTF-8 text ({err}).") from err
    values = _load(text, path)
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise YamlError(f"{path} holds a {type(values).__name__} at the top level; "
                        "it must be a mapping of NAME: VALUE lines.")
    return values


def parse_value(text, source):
    """One value (``--set NAME=VALUE``'s VALUE) read as the profiles read it; ``source`` names it in errors."""
    return _load(text, source)
