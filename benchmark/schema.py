"""The two pydantic bases every declaration of the package builds on.

``Strict`` is for what a person writes in params.yaml (a block per key group): unknown keys refused,
and YAML's types taken exactly (``true`` is not the integer 1, nor ``"32"`` the integer 32). ``Frozen``
is for the specs written in Python (datasets, tasks, arms, targets, declared comparisons): unknown
fields refused, values immutable, and pydantic's ordinary coercion kept (a list literal becomes a
declared tuple). Both are validated when their module is imported.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
