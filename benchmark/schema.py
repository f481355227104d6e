"""The two pydantic bases every declaration of the package builds on, the one registry shape, and how
plugins add to a registry.

``Strict`` is for what a person writes in params.yaml (a block per key group): unknown keys refused,
and YAML's types taken exactly (``true`` is not the integer 1, nor ``"32"`` the integer 32). ``Frozen``
is for the specs written in Python (datasets, tasks, arms, targets, declared comparisons): unknown
fields refused, values immutable, and pydantic's ordinary coercion kept (a list literal becomes a
declared tuple). Both are validated when their module is imported.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from importlib.metadata import entry_points
from typing import Any, TypeVar, get_args

from pydantic import BaseModel, ConfigDict, ValidationError

from benchmark.io import BenchmarkError


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


M = TypeVar("M", bound=BaseModel)
V = TypeVar("V")


def declare(model: type[M], **fields: Any) -> M:
    """A spec built at import time; a bad one is a bug in the package, reported as one line naming it."""
    try:
        return model(**fields)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise BenchmarkError(f"invalid {model.__name__} {fields.get('name')!r}: {where + ': ' if where else ''}"
                             f"{first['msg'].removeprefix('Value error, ')}") from None


class Unknown(BenchmarkError, KeyError):
    """A name no registry entry has (a KeyError too, so ``in`` and ``dict.get`` keep their meaning)."""

    def __str__(self) -> str:  # KeyError's str() quotes its message
        return str(self.args[0])


class Registry(dict[str, V]):
    """The one shape of every name -> entry table (datasets, tasks, arms, targets, and the per-format or
    per-objective tables of behaviour): a repeated name refused at import, an unknown one a one-line
    error listing the known names. Built from specs (keyed by their ``name``) or from a mapping; with
    ``names`` (a ``Literal``), it must hold exactly one entry per name, so a new format or objective
    without its entry fails at import, naming the table."""

    def __init__(self, kind: str, entries: Iterable[V] | Mapping[str, V], *, names: Any = None) -> None:
        super().__init__()
        self.kind = kind
        pairs = entries.items() if isinstance(entries, Mapping) else ((e.name, e) for e in entries)
        for name, entry in pairs:
            if name in self:
                raise BenchmarkError(f"two {kind}s are named {name!r}")
            self[name] = entry
        if names is not None and set(self) != set(get_args(names)):
            raise BenchmarkError(f"the {kind} table and its names disagree: {sorted(set(self) ^ set(get_args(names)))}")

    def __missing__(self, name: str) -> V:
        raise Unknown(f"unknown {self.kind} {name!r}; expected one of {', '.join(self)}")


def plugins(group: str, attribute: str, kind: type[M]) -> list[M]:
    """The specs that installed plugins declare: for each module named under the entry-point ``group``
    (an installed distribution's ``entry_points.txt``, as pytest finds its plugins), its ``attribute``,
    one ``kind`` or several. A plugin that fails to import or declares something else is one line."""
    found: list[M] = []
    for entry in entry_points(group=group):
        try:
            value = getattr(importlib.import_module(entry.value), attribute)
        except (ImportError, AttributeError) as err:
            raise BenchmarkError(f"plugin {entry.value!r} (entry point group {group!r}): {err}") from None
        specs = [value] if isinstance(value, kind) else list(value) if isinstance(value, tuple | list) else [value]
        if not all(isinstance(spec, kind) for spec in specs):
            raise BenchmarkError(f"plugin {entry.value!r}: {attribute} must be a {kind.__name__} or a tuple of them")
        found += specs
    return found
