"""The experiment's configuration: presets composed by Hydra, validated here by pydantic.

``benchmark/conf/`` holds every key's default (``config.yaml``) and each profile's changes
(``profile/*.yaml``); DVC's Hydra integration composes them, with ``dvc exp run -S`` overrides, into
``params.yaml``, which lists every key. This module is the schema of that file and its checks: a
missing or unknown key, a wrong type or an impossible value is a one-line :class:`BenchmarkError`.
The pipeline's first stage (``validate``) applies them before any stage can delete an output.
Defaults live only in ``conf/``; the schema has none, so nothing can disagree with params.yaml.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import re
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import Field, ValidationError, create_model, field_validator, model_validator

from benchmark.arms import parse_run
from benchmark.blocks import DataConfig, EncoderConfig, ImageConfig, RuntimeConfig, TrackingConfig, TrainingConfig
from benchmark.data import flores
from benchmark.data.tasks import TASKS
from benchmark.io import BenchmarkError, atomic_path
from benchmark.profiles import PROFILES, Profile
from benchmark.schema import Strict
from benchmark.targets import registry
from benchmark.targets.spec import Context

CONF_DIR = Path(__file__).parent / "conf"
MAX_SEED = 2**32 - 1  # numpy's and torch's seed range

# One block per target of the registry (benchmark/targets/registry.py): a new target adds its own.
TargetsConfig = create_model("TargetsConfig", __base__=Strict, **registry.configs())


class Params(Strict):
    profile: Profile
    checked_by: Literal["benchmark/config.py"]  # composition validated (see register_checks)
    # sha256 of the benchmark/conf files it was composed from: `validate` compares it with the files
    # now, so a preset edited after composition is caught from the clone alone (presets_sha256).
    presets: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    seed: Annotated[int, Field(ge=0, le=MAX_SEED)]
    # Runs to train and evaluate: an arm name (benchmark/arms.py), or `<arm>.s<k>` for the same arm
    # with training seed `seed + k`.
    arms: Annotated[list[str], Field(min_length=1)]
    encoder: EncoderConfig
    data: DataConfig
    training: TrainingConfig
    image: ImageConfig
    targets: TargetsConfig
    runtime: RuntimeConfig
    tracking: TrackingConfig

    @field_validator("arms")
    @classmethod
    def _known_arms(cls, arms: list[str]) -> list[str]:
        for run in arms:
            parse_run(run)  # ValueError naming the run
        if len(set(arms)) != len(arms):
            raise ValueError("arms must not repeat")
        return arms

    @model_validator(mode="after")
    def _fits(self) -> Params:
        if self.training.max_length - self.image.prefix_tokens < 8:
            raise ValueError("training.max_length leaves fewer than 8 text tokens after image.prefix_tokens")
        top = max(parse_run(run)[1] for run in self.arms)
        if self.data.source == "bundle":  # the offline bundle holds only some English tasks
            for run in self.arms:
                absent = [t for t in parse_run(run)[0].tasks if not TASKS[t].bundled]
                if absent:
                    raise ValueError(f"arms: {run} trains on {', '.join(absent)}, which the offline bundle does not "
                                     "hold; it needs data.source: upstream (the full profile)")
        if self.seed + top > MAX_SEED:
            raise ValueError(f"seed: seed + {top} (run .s{top}) exceeds {MAX_SEED}, the largest seed torch accepts")
        registry.check_blocks(self.profile, self.targets)
        pivot = self.targets.retrieval.pivot
        if pivot not in flores.LANGUAGES:
            raise ValueError(f"targets.retrieval.pivot: unknown FLORES-200 language code {pivot!r}")
        if self.data.languages != "all" and pivot not in self.data.languages:
            raise ValueError(f"data.languages: must include the retrieval pivot {pivot!r}")
        return self

    @property
    def pivot(self) -> str:
        """The language every retrieval, probe and positive-control pair pivots on. It is the FLORES-200
        retrieval target's key (``targets.retrieval.pivot``, where it has always been set); every other
        module reads it here."""
        return self.targets.retrieval.pivot

    def block(self, name: str) -> Any:
        """Target ``name``'s own block (``targets.<name>``): all a target's functions get of it."""
        return getattr(self.targets, name)

    def context(self, data_dir: Path) -> Context:
        """What every target may read beyond its block (:class:`benchmark.targets.spec.Context`)."""
        return Context(data_dir=data_dir, data=self.data, pivot=self.pivot, seed=self.seed,
                       encoder=self.encoder, training=self.training, runtime=self.runtime)


class _Loader(yaml.SafeLoader):
    """YAML 1.1 reads ``1e-4`` as a string; read it as the float a researcher (and Hydra) means."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


_CHECKS, _PRESETS, _COMPOSED = "benchmark_checks", "benchmark_presets", "params.yaml"  # what DVC is composing


def presets_sha256() -> str:
    """One sha256 over every YAML file of ``benchmark/conf`` (relative name and bytes): what params.yaml
    records as ``presets`` when it is composed, and what ``validate`` compares it with."""
    h = hashlib.sha256()
    for path in sorted(CONF_DIR.rglob("*.yaml")):
        h.update(path.relative_to(CONF_DIR).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def _check_composition(*, _root_: Any) -> str:
    """Hydra/OmegaConf resolver of ``checked_by``: validates the whole composed configuration."""
    from omegaconf import OmegaConf

    raw = OmegaConf.to_container(_root_, resolve=False)
    for key in ("checked_by", "presets"):  # interpolations, unresolved here
        raw.pop(key, None)
    try:
        params = validate({**raw, "checked_by": "benchmark/config.py", "presets": presets_sha256()}, source=_COMPOSED)
        for check in _HOOKS["after"]:
            check(params)
    except BenchmarkError as err:
        for refuse in _HOOKS["refuse"]:
            refuse(err)
        raise
    return "benchmark/config.py"


# What register_checks adds: more checks of a valid composition, and how a refusal leaves the process.
_HOOKS: dict[str, list[Callable[..., None]]] = {"after": [], "refuse": []}


def register_checks(after: Callable[[Params], None] | None = None,
                    refuse: Callable[[BenchmarkError], None] | None = None) -> None:
    """Make composition (ours, and DVC's through its Hydra plugin scan) run the checks and record the
    presets' hash. The plugin adds ``after`` (the run-list checks, which need more of the package than
    this module may import) and ``refuse`` (a one-line exit instead of OmegaConf's wrapped error)."""
    from omegaconf import OmegaConf

    for name, hook in (("after", after), ("refuse", refuse)):
        if hook is not None and hook not in _HOOKS[name]:
            _HOOKS[name].append(hook)
    if not OmegaConf.has_resolver(_CHECKS):
        OmegaConf.register_new_resolver(_CHECKS, _check_composition)
    if not OmegaConf.has_resolver(_PRESETS):
        OmegaConf.register_new_resolver(_PRESETS, presets_sha256)


def compose(overrides: list[str] | tuple[str, ...] = ()) -> dict[str, Any]:
    """``benchmark/conf`` composed with Hydra overrides (``key=value``), exactly as ``dvc exp run -S``
    composes params.yaml (DVC's own function does the writing: :func:`write_params`)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    register_checks()
    try:
        with initialize_config_dir(str(CONF_DIR), version_base=None):
            cfg = hydra_compose(config_name="config", overrides=list(overrides))
        return OmegaConf.to_container(cfg, resolve=True)  # type: ignore[return-value]
    except (HydraException, OmegaConfBaseException) as err:
        lines = [line.strip() for line in str(err).splitlines() if line.strip()]
        checks = "BenchmarkError raised while resolving interpolation: "  # the resolver of checked_by
        if lines[0].startswith(checks):
            message = lines[0].removeprefix(checks).removeprefix(f"{_COMPOSED}: ")
            raise BenchmarkError(f"{' '.join(overrides) or CONF_DIR}: {message}") from None
        if lines[0].startswith("Could not override"):  # Hydra's hint: the key does not exist
            lines[0] += " (no such key)"
        elif "Could not find 'profile/" in lines[0]:
            lines[0] += f" (profiles: {', '.join(PROFILES)})"
        raise BenchmarkError(f"{' '.join(overrides)}: {lines[0]}") from None


@functools.lru_cache(maxsize=None)
def _preset(profile: str) -> str:
    return yaml.safe_dump(compose([f"profile={profile}"]), sort_keys=False)


def preset(profile: str) -> dict[str, Any]:
    """Every key as profile ``profile`` sets it (composed once per process)."""
    if profile not in PROFILES:
        raise BenchmarkError(f"profile: must be one of {', '.join(PROFILES)}, got {profile!r}")
    return yaml.load(_preset(profile), Loader=_Loader)


def write_params(path: Path | str = "params.yaml", overrides: list[str] | tuple[str, ...] = ()) -> Params:
    """Compose ``benchmark/conf`` with ``overrides`` into ``path`` with DVC's own Hydra writer (the bytes
    ``dvc exp run`` would write), after validating the result; an invalid result writes nothing."""
    from dvc.utils.hydra import compose_and_dump

    params = validate(compose(overrides), source=" ".join(overrides) or str(CONF_DIR))
    with atomic_path(Path(path)) as tmp:
        compose_and_dump(tmp, str(CONF_DIR), None, "config", "", list(overrides))
    return params


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _one_line(err: ValidationError, source: str) -> str:
    first = err.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    msg = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        msg = "unknown key"
    elif first["type"] == "missing":
        msg = "missing (params.yaml lists every key: recompose it with `benchmark params --write`)"
    value = first.get("input")
    if first["type"] not in ("missing", "extra_forbidden") and not isinstance(value, dict | list):
        msg += f", got {value!r}"
    more = f" (+{err.error_count() - 1} more)" if err.error_count() > 1 else ""
    return f"{source}: {where + ': ' if where else ''}{msg}{more}"


def validate(raw: Any, source: str = "params") -> Params:
    """Check a complete configuration (every key present) and return it typed."""
    if not isinstance(raw, dict):
        raise BenchmarkError(f"{source}: expected a mapping at the top level")
    if raw.get("profile") not in PROFILES:
        raise BenchmarkError(f"{source}: profile: must be one of {', '.join(PROFILES)}, got {raw.get('profile')!r}")
    try:
        return Params.model_validate(raw)
    except ValidationError as err:
        raise BenchmarkError(_one_line(err, source)) from None


def resolve(raw: dict[str, Any], source: str = "params") -> Params:
    """A profile's preset with ``raw``'s keys on top (``raw`` names the profile): for code and tests
    that build a configuration without a params file."""
    if not isinstance(raw, dict):
        raise BenchmarkError(f"{source}: expected a mapping at the top level")
    return validate(_merge(preset(raw.get("profile")), raw), source)


def read_yaml(path: Path) -> Any:
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
    except FileNotFoundError:
        raise BenchmarkError(f"{path}: params file not found") from None
    except UnicodeDecodeError as err:
        raise BenchmarkError(f"{path}: not UTF-8 text (byte {err.start})") from None
    except yaml.YAMLError as err:
        raise BenchmarkError(f"{path}: not valid YAML ({str(err).splitlines()[0]})") from None


def load_params(path: Path | str = "params.yaml", overrides: dict[str, Any] | None = None) -> Params:
    """params.yaml, every key checked; ``overrides`` (a nested dict) replace keys of the file first."""
    path = Path(path)
    return validate(_merge(read_yaml(path) or {}, overrides or {}), source=str(path))
