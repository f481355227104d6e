"""The evaluation targets, found rather than listed by hand: the package's own modules under
``benchmark/targets/`` that declare a ``SPEC`` (:class:`benchmark.targets.spec.TargetSpec`), and any
module a plugin names under the entry-point group ``benchmark.targets`` (an installed distribution's
``entry_points.txt``, as pytest finds its plugins). A new target is that one module plus its block
``targets.<name>`` in ``benchmark/conf`` (docs/extending.md).

Analysis, report, ``compare``, ``check-reference``, the CLI and the stages read targets from here and
never name one themselves.
"""

from __future__ import annotations

import importlib
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmark.io import BenchmarkError
from benchmark.profiles import PROFILES
from benchmark.schema import Registry, plugins
from benchmark.targets.spec import Configured, Score, TargetSpec

GROUP = "benchmark.targets"  # the entry-point group a plugin's target modules are named in
HERE = Path(__file__).parent


_SPEC_LINE = re.compile(r"^SPEC\s*(:[^=]*)?=", re.MULTILINE)  # a top-level assignment starts its line


def _declares_spec(path: Path) -> bool:
    """Whether a module of this folder assigns ``SPEC`` at its top level (read, not imported: the
    scorers beside the targets load torch; a line match, not a parse: every command pays this scan)."""
    return _SPEC_LINE.search(path.read_text(encoding="utf-8")) is not None


def own_modules() -> list[str]:
    """The package's target modules, by file name (flores, the seed's primary target, first)."""
    return [f"{__package__}.{path.stem}" for path in sorted(HERE.glob("*.py")) if _declares_spec(path)]


# The package's targets, then the plugins'; tables and figures list them in this order.
TARGETS: Registry[TargetSpec] = Registry("target", [
    *(importlib.import_module(module).SPEC for module in own_modules()), *plugins(GROUP, "SPEC", TargetSpec)])
for _t in TARGETS.values():
    if _t.module not in sys.modules or sys.modules[_t.module].SPEC is not _t:
        raise BenchmarkError(f"target {_t.name!r}: its spec's module must be the module that declares it, "
                             f"not {_t.module!r}")

SCORES: dict[str, tuple[TargetSpec, Score]] = {}
for _t in TARGETS.values():
    for _s in _t.scores:
        if _s.name in SCORES:
            raise BenchmarkError(f"target {_t.name!r}: score name {_s.name!r} is taken by {SCORES[_s.name][0].name!r}")
        SCORES[_s.name] = (_t, _s)


def active(profile: str) -> list[TargetSpec]:
    """The targets a profile evaluates, in registry order."""
    return [t for t in TARGETS.values() if profile in t.profiles]


def targets_of(profile: str, names: Sequence[str] | None = None) -> list[TargetSpec]:
    """``names`` (all of the profile's when None), each checked to be one the profile evaluates."""
    chosen = active(profile)
    if names is None:
        return chosen
    specs = [TARGETS[n] for n in names]
    off = [t.name for t in specs if t not in chosen]
    if off:
        raise BenchmarkError(f"target(s) {', '.join(off)} not evaluated in profile {profile!r}")
    return specs


def texts_of(params: Configured, specs: Sequence[TargetSpec], data_dir: Path) -> dict[str, list[str]]:
    """Every group of texts the targets embed; a group two targets name must hold the same texts."""
    groups: dict[str, list[str]] = {}
    for spec in specs:
        for name, texts in spec.texts(params, data_dir).items():
            if groups.setdefault(name, texts) != texts:
                raise BenchmarkError(f"target {spec.name!r}: group {name!r} differs from another target's")
    return groups


def configs() -> dict[str, tuple[Any, Any]]:
    """``targets.<name>`` blocks of params.yaml, for :class:`benchmark.config.TargetsConfig`: required
    for a target every profile evaluates; for the others present exactly in the profiles that do
    (:func:`check_blocks`)."""
    return {t.name: (t.config, ...) if set(t.profiles) == set(PROFILES) else (t.config | None, None)
            for t in TARGETS.values()}


def check_blocks(profile: str, targets: Any) -> None:
    """A ``targets.<name>`` block where the profile evaluates ``name``, and none where it does not."""
    for t in TARGETS.values():
        block = getattr(targets, t.name)
        if profile in t.profiles and block is None:
            raise ValueError(f"targets.{t.name}: profile {profile!r} evaluates {t.display}: its block is required")
        if profile not in t.profiles and block is not None:
            raise ValueError(f"targets.{t.name}: profile {profile!r} does not evaluate {t.display} (only "
                             f"{', '.join(t.profiles)}): remove the block")


def imported_by_name() -> dict[str, set[str]]:
    """The modules imported by name at run time, by the module that imports them (no ``import``
    statement shows them to :mod:`benchmark.imports`): this registry imports each target's
    ``module`` (the package's own and the plugins'), :mod:`benchmark.targets.scoring` each ``scorer``."""
    return {__name__: {t.module for t in TARGETS.values()},
            "benchmark.targets.scoring": {t.scorer or t.module for t in TARGETS.values()}}
