"""`validate` refuses, from params alone, everything a later stage would fail on after DVC had deleted its
outputs.

The refusals a stage can raise are enumerated, not sampled: every `raise BenchmarkError` in the package
is found by walking its source, and each one in a module a stage runs is classified in `SITES` below —
reached by params (a case in `CASES` that `validate` refuses first, the workspace byte for byte as it
was), a check `validate` itself calls, refused by the schema when params are composed, or not reachable
from params alone (and why). A new raise, or one more in a classified function, fails this file until
it is classified. The slow test in tests/test_pipeline.py runs some of the same refusals through real
`dvc exp run` and `dvc repro`.
"""

from __future__ import annotations

import ast
import os
from collections import Counter
from pathlib import Path

import pytest
import torch
import yaml

from benchmark.cli import main
from benchmark.config import resolve
from benchmark.io import BenchmarkError
from benchmark.pipeline import validate

REPO = Path(__file__).resolve().parents[1]
CUDA = torch.cuda.is_available()
TINY = {"profile": "tiny"}

# Params a later stage would fail on, and the gate's refusal of them (validate.run on a params.yaml
# holding exactly these values).
CASES: dict[str, tuple[dict, str]] = {
    # analysis: "no two arms to compare", after every run had trained and been evaluated
    "tiny-alone": ({**TINY, "arms": ["baseline"]}, r"arms \['baseline'\]: no two arms to compare"),
    "textual-alone": ({**TINY, "arms": ["hellaswag"]}, r"arms \['hellaswag'\]: no two arms to compare"),
    # train@hellaswag (trainer, text_evidence): a 4-way choice does not fit 2 rows
    "batch-below-choices": ({**TINY, "arms": ["baseline", "hellaswag"], "training": {"batch_size": 2}},
                            r"training.batch_size=2: run hellaswag trains hellaswag, whose examples are 4 encoder "
                            r"rows each \(a 4-way choice\); it needs at least 4"),
    # train@multitask-bundled (multitask sampler): the same, per task of a multi-task run
    "batch-below-choices-multitask": (
        {**TINY, "arms": ["baseline", "multitask-bundled"], "training": {"batch_size": 2}},
        r"training.batch_size=2: run multitask-bundled trains \w+, whose examples are 4 encoder rows"),
    # train@coco-contrastive (trainer.Sampler): one batch larger than an epoch of training images
    "batch-above-images": ({**TINY, "training": {"batch_size": 1000}},
                           r"training.batch_size=1000: run coco-contrastive draws 1000 examples per batch from 119 "
                           r"training images; it needs at most 119"),
    # train@vqa: the same for questions (drawn one by one, not per image)
    "batch-above-questions": ({**TINY, "arms": ["baseline", "vqa"], "training": {"batch_size": 5000}},
                              r"run vqa draws 5000 examples per batch from \d+ training questions"),
    # train@hellaswag: one batch larger than the task's pool (data.task_pool)
    "batch-above-pool": ({**TINY, "arms": ["baseline", "hellaswag"], "training": {"batch_size": 100}},
                         r"run hellaswag draws 25 examples per batch from 24 hellaswag examples"),
    # train@parallel-contrastive (datasets.Parallel, trainer.Sampler): too few free FLORES lines
    "positive-too-few-lines": ({**TINY, "arms": ["baseline", "parallel-contrastive"],
                                "training": {"batch_size": 1000}},
                               r"positive control: \d+ training and \d+ held-out FLORES lines .* it needs "
                               r"training.batch_size \(1000\)"),
    # train@* (trainer.set_trainable): more trainable layers than the encoder has
    "top-layers": ({**TINY, "training": {"train_top_layers": 3}},
                   r"training.train_top_layers=3: the encoder \(random tiny-random-bert\) has 2 layers"),
    # images (pool_grid): a visual prefix finer than the image encoder's 7x7 grid
    "grid": ({"profile": "mini", "image": {"prefix_tokens": 64}},
             r"image.prefix_tokens=64 exceeds the image encoder's 49-position grid"),
    # frozen / images (pretrained.verify): a local model directory that does not exist
    "local-model-missing": ({**TINY, "encoder": {"source": "hf", "name": "./no-such-model", "revision": "0" * 64}},
                            r"encoder: local model directory ./no-such-model does not exist"),
    # every stage that reads data/full: the upstream snapshot absent
    "full-without-snapshot": ({"profile": "full", "runtime": {"device": "cpu"}},
                              r"data/full: upstream snapshot missing; run `benchmark fetch`"),
    # train@cosmosqa on the upstream source (data.task_tables.load_task): a task neither pinned nor locked
    "full-unpinned-task": ({"profile": "full", "runtime": {"device": "cpu"}, "arms": ["baseline", "cosmosqa"]},
                           r"hf-dataset:allenai/cosmos_qa: read by task cosmosqa, has no immutable identity .*"
                           r"resolve it online once with `benchmark lock --profile full`"),
    # every stage on a device (determinism.resolve_device): CUDA asked for on a machine without it
    **({} if CUDA else {"device": ({**TINY, "runtime": {"device": "cuda"}},
                                   r"runtime.device: device 'cuda' requested but no CUDA device")}),
    # train@* under torchrun (training.distributed.check_divisible, on every rank): 3 ranks, batch 8
    "world-indivisible": ({**TINY, "runtime": {"nproc_per_node": 3}},
                          r"runtime.nproc_per_node=3: run coco-contrastive: training.batch_size=8 is not divisible "
                          r"by the torchrun world size 3"),
    # train@* on cuda (training.distributed.local_device): more processes than GPUs
    **({"nproc-gpus": ({**TINY, "runtime": {"device": "cuda", "nproc_per_node": 1024}},
                       r"runtime.nproc_per_node=1024: this machine has \d+ CUDA device")} if CUDA else {}),
    # train@* (trainer): bf16 autocast where the device has none (no device here lacks it: see the test)
    "bf16-unsupported": ({**TINY, "runtime": {"precision": "bf16"}},
                         r"runtime.precision: bf16 autocast is not supported on device 'cpu'"),
}

# Params refused when they are composed (pydantic schema, benchmark/config.py): no stage ever sees them.
SCHEMA: dict[str, tuple[dict, str]] = {
    "unknown-arm": ({**TINY, "arms": ["baseline", "coco-contrastiv"]}, r"arms: unknown arm 'coco-contrastiv'"),
    "unbundled-task": ({**TINY, "arms": ["baseline", "squad"]}, r"squad trains on squad, which the offline bundle"),
    "unknown-language": ({**TINY, "data": {"languages": ["eng_Latn", "xxx_Latn"]}},
                         r"data.languages: unknown FLORES-200 language code 'xxx_Latn'"),
    "pivot-missing": ({**TINY, "data": {"languages": ["fra_Latn", "deu_Latn"]}},
                      r"data.languages: must include the retrieval pivot 'eng_Latn'"),
    "mobilenet-named": ({**TINY, "image": {"name": "foo"}}, r"image: source mobilenet_v2 takes no name or revision"),
    "unknown-profile": ({"profile": "huge"}, r"profile: must be one of"),
}

CALLED = "a check `validate` itself calls"  # verified below from validate.py's own calls
DATA = "a data or model file missing, corrupt or off its spec: `validate` checks the bundle and pins, a stage its inputs"
STATE = "an earlier stage's output or a checkpoint missing or from other params: DVC's graph orders stages"
INVARIANT = "an internal invariant (specs validated at import, or what an earlier step guarantees)"
CLI = "a command-line argument of a command DVC does not run from params (or runs with the profile's own values)"

# Every function of the package that raises BenchmarkError, by `path:qualname`, with how many raises it
# holds: the cases that reach it from params (each refused first by the gate), or why params cannot.
# Folders whose raises are all about files (data/, models/, report/) are classified as a whole, except
# the functions params can reach, which are listed.
SITES: dict[str, tuple[int, tuple[str, ...] | str]] = {
    "benchmark/analysis/margins.py:parse_run": (1, INVARIANT + " (arms are validated names)"),
    "benchmark/analysis/margins.py:seed_groups": (1, INVARIANT + " (the schema refuses a run listed twice)"),
    "benchmark/analysis/margins.py:load_predictions": (2, STATE),
    "benchmark/analysis/margins.py:_item_table": (2, STATE),
    "benchmark/analysis/margins.py:item_scores": (2, STATE),
    "benchmark/analysis/margins.py:item_clusters": (1, DATA),
    "benchmark/analysis/margins.py:_resolve": (2, ("tiny-alone", "textual-alone")),
    "benchmark/analysis/margins.py:compute_margins": (2, INVARIANT + " (targets from the registry; data.languages "
                                                         "holds the pivot and another language)"),
    "benchmark/analysis/margins.py:compute_margins.groups_of": (2, INVARIANT),
    "benchmark/armspec.py:load_run": (1, STATE),
    "benchmark/cli.py:_params": (1, CLI),
    "benchmark/cli.py:_pin_model": (1, CLI),
    "benchmark/cli.py:_lock": (2, CLI + " (`benchmark lock`, run by hand online; no stage runs it)"),
    "benchmark/cli.py:_source": (1, CLI + " (`benchmark lock --source`'s value)"),
    "benchmark/cli.py:_fetch": (1, CLI + " (`benchmark fetch --profile`, run by hand before `dvc repro`)"),
    "benchmark/cli.py:_main": (1, CLI + " (dvc.yaml's train@ runs are params' own arms)"),
    "benchmark/config.py:compose": (2, ("unknown-arm",)),
    "benchmark/config.py:preset": (1, ("unknown-profile",)),
    "benchmark/config.py:validate": (3, ("unknown-language", "pivot-missing", "mobilenet-named", "unbundled-task")),
    "benchmark/config.py:resolve": (1, DATA + " (params.yaml not a mapping)"),
    "benchmark/config.py:read_yaml": (3, DATA + " (params.yaml unreadable)"),
    "benchmark/determinism.py:resolve_device": (1, CALLED),
    "benchmark/io.py:read_bytes": (2, DATA),
    "benchmark/io.py:read_lines": (1, DATA),
    "benchmark/evaluate.py:_check_code": (2, CLI + " (eval-flores --languages)"),
    "benchmark/evaluate.py:read_flores_dir": (9, DATA + "; the rest are eval-flores arguments (" + CLI + ")"),
    "benchmark/evaluate.py:_check_out": (2, CLI),
    "benchmark/pipeline/analysis.py:run": (2, ("tiny-alone", "textual-alone")),
    "benchmark/targets/corpus.py:select_languages": (2, ("unknown-language", "pivot-missing")),
    "benchmark/targets/corpus.py:require_snapshot": (1, CALLED),
    "benchmark/targets/corpus.py:parallel_lines": (1, CALLED),
    "benchmark/pipeline/images.py:pool_grid": (2, ("grid",)),
    "benchmark/pipeline/task_memo.py:load_memo": (1, STATE),
    "benchmark/pipeline/validate.py:check": (2, "the gate's own refusal of a stale or relabelled params.yaml"),
    "benchmark/pipeline/validate.py:check_runs": (3, ("tiny-alone", "device", "bf16-unsupported")),
    "benchmark/pipeline/validate.py:_check_batch": (1, ("batch-below-choices",)),
    "benchmark/pipeline/validate.py:_check_world": (1, ("world-indivisible",)),
    "benchmark/pipeline/validate.py:_check_gpus": (1, ("nproc-gpus",)),
    "benchmark/pipeline/validate.py:_fits": (1, ("batch-above-images", "batch-above-pool")),
    "benchmark/pipeline/pins.py:check": (1, ("full-unpinned-task",)),
    "benchmark/pipeline/validate.py:_check_layers": (1, ("top-layers",)),
    "benchmark/pipeline/validate.py:_check_grid": (1, ("grid",)),
    "benchmark/pipeline/validate.py:check_composed": (1, ("full-without-snapshot",)),
    "benchmark/targets/registry.py:<module>": (2, INVARIANT),
    "benchmark/schema.py:plugins": (2, "a plugin that fails to import or declares no spec: the installed "
                                       "environment, not params"),
    "benchmark/schema.py:declare": (1, INVARIANT),
    "benchmark/schema.py:Registry.__init__": (2, INVARIANT + " (a table with an entry per name, checked at import)"),
    "benchmark/schema.py:Registry.__missing__": (1, INVARIANT + " (a name params give is checked by the schema "
                                                    "against the registry first)"),
    "benchmark/targets/registry.py:targets_of": (1, CLI + " (dvc.yaml names each profile's own targets)"),
    "benchmark/targets/registry.py:texts_of": (1, INVARIANT),
    "benchmark/targets/tatoeba.py:pairs": (1, ("full-without-snapshot",)),
    "benchmark/targets/xtreme.py:check": (2, CALLED),
    "benchmark/targets/xtreme_score.py:english_train": (3, "after the gate's `check` (its pins): the Hub unreachable, or a "
                                                     "file off its schema (" + DATA + ")"),
    "benchmark/targets/xtreme_metrics.py:_aligned": (2, INVARIANT),
    "benchmark/targets/xtreme_metrics.py:seqeval_scores": (1, INVARIANT),
    "benchmark/targets/xtreme_metrics.py:mlqa_normalize": (1, DATA),
    "benchmark/training/checkpoint.py:exclusive": (1, "another trainer already writing the run (a process, not params)"),
    "benchmark/training/checkpoint.py:verify": (3, STATE + " (a corrupted checkpoint)"),
    "benchmark/training/datasets.py:FeatureBank.load": (1, STATE),
    "benchmark/training/datasets.py:Parallel.__init__": (1, ("positive-too-few-lines",)),
    "benchmark/training/distributed.py:refuse": (1, "the launch (torchrun's world size), not params"),
    "benchmark/training/multitask.py:MultiTaskSampler.__init__": (1, ("batch-below-choices-multitask",)),
    "benchmark/training/multitask.py:MultiTaskSampler.load_state_dict": (1, STATE),
    "benchmark/training/multitask.py:MultiTaskData.__init__": (2, INVARIANT + " (arm specs, validated at import)"),
    "benchmark/training/text_data.py:_pair_template": (1, DATA),
    "benchmark/training/text_data.py:Choices.__init__": (1, DATA),
    "benchmark/training/text_data.py:Spans.__init__": (1, "an upstream example whose question alone fills "
                                                          "training.max_length: the data decide, read only by train"),
    "benchmark/training/text_data.py:Tags.__init__": (1, DATA),
    "benchmark/training/text_data.py:make_task_data": (1, INVARIANT + " (task specs, validated at import)"),
    "benchmark/training/text_evidence.py:_fit_head": (1, ("batch-below-choices",)),
    "benchmark/training/text_evidence.py:_per_example": (1, INVARIANT),
    "benchmark/training/text_evidence.py:paired_evidence": (1, INVARIANT),
    "benchmark/training/text_evidence.py:task_evidence": (3, INVARIANT),
    "benchmark/training/text_objectives.py:make_text_objective": (1, INVARIANT + " (task specs)"),
    "benchmark/training/trainer.py:Sampler.__init__": (2, ("batch-above-images", "batch-above-questions",
                                                           "batch-above-pool", "positive-too-few-lines")),
    "benchmark/training/trainer.py:set_trainable": (1, ("top-layers",)),
    "benchmark/training/trainer.py:train": (2, ("bf16-unsupported", "batch-below-choices")),
    "benchmark/training/trainer.py:_step": (2, "a batch over max_length (the collator truncates: an invariant), "
                                               "or a non-finite loss (an lr that diverges is found only by training)"),
    "benchmark/training/trainer.py:_check_same_config": (1, STATE),
    # within the folders classified as a whole: what params reach
    "benchmark/data/task_tables.py:load_task": (2, ("full-unpinned-task",)),
    "benchmark/data/task_tables.py:_load_bundle": (1, ("unbundled-task",)),
    "benchmark/models/image.py:load_image_encoder": (2, ("mobilenet-named",)),
    "benchmark/models/pretrained.py:verify": (3, ("local-model-missing",)),
    "benchmark/models/encoder.py:load_encoder": (1, INVARIANT + " (encoder.source is a Literal of the schema)"),
}
FOLDERS = {"benchmark/data/": DATA, "benchmark/models/": DATA, "benchmark/report/": STATE + "; or " + CLI}


def _raise_sites() -> Counter[str]:
    """`path:qualname` of every `raise BenchmarkError(...)` (or its subclass `Unknown`) in the package, counted."""
    sites: Counter[str] = Counter()
    for path in sorted((REPO / "benchmark").rglob("*.py")):
        rel = path.relative_to(REPO).as_posix()

        def walk(node: ast.AST, scope: tuple[str, ...]) -> None:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    walk(child, (*scope, child.name))
                    continue
                if isinstance(child, ast.Raise) and isinstance(child.exc, ast.Call):
                    func = child.exc.func
                    if (getattr(func, "id", None) or getattr(func, "attr", None)) in ("BenchmarkError", "Unknown"):
                        sites[f"{rel}:{'.'.join(scope) or '<module>'}"] += 1
                walk(child, scope)

        walk(ast.parse(path.read_text()), ())
    return sites


def _called_by_validate() -> set[str]:
    tree = ast.parse((REPO / "benchmark/pipeline/validate.py").read_text())
    return {getattr(n.func, "id", None) or getattr(n.func, "attr", None) for n in ast.walk(tree)
            if isinstance(n, ast.Call)} - {None}


def test_every_refusal_of_the_package_is_classified() -> None:
    found = _raise_sites()
    unclassified = [f"{site} ({n})" for site, n in found.items()
                    if site not in SITES and not site.startswith(tuple(FOLDERS))]
    assert not unclassified, f"classify these raises in SITES: {unclassified}"
    stale = [site for site in SITES if site not in found]
    assert not stale, f"no longer raise: {stale}"
    recount = [f"{site}: {found[site]} raises, SITES says {n}" for site, (n, _) in SITES.items() if found[site] != n]
    assert not recount, f"a function gained or lost a raise: classify it ({recount})"
    known = set(CASES) | set(SCHEMA) | ({"device"} if CUDA else {"nproc-gpus"})  # each tried where it can be
    for site, (_, how) in SITES.items():
        if isinstance(how, tuple):
            assert set(how) <= known, (site, set(how) - known)
        elif how == CALLED:
            assert site.rsplit(":", 1)[1].rsplit(".", 1)[-1] in _called_by_validate(), site


def _snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_gate_refuses_what_a_later_stage_would(case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`benchmark validate` on a params.yaml holding the case's values: one line, nothing written."""
    overrides, message = CASES[case]
    monkeypatch.chdir(tmp_path)
    if case == "full-unpinned-task":  # a snapshot present (its contents are checked later, by the targets)
        (tmp_path / "data" / "full" / "flores200").mkdir(parents=True)
    if case == "bf16-unsupported":  # every device here has bf16 autocast: take it away from the gate's probe
        monkeypatch.setattr(validate, "bf16_autocast_ok", lambda device: False)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(resolve(overrides).model_dump(mode="json"), sort_keys=False))
    gate = tmp_path / "artifacts" / "validate" / "checked"
    gate.parent.mkdir(parents=True)
    gate.write_text("from an earlier check\n")
    before = _snapshot(tmp_path)
    with pytest.raises(BenchmarkError, match=message) as err:
        validate.run("params.yaml")
    assert "\n" not in str(err.value)
    assert _snapshot(tmp_path) == before


@pytest.mark.parametrize("case", sorted(SCHEMA))
def test_the_schema_refuses_before_any_stage(case: str) -> None:
    overrides, message = SCHEMA[case]
    with pytest.raises(BenchmarkError, match=message):
        resolve(overrides)


def test_every_default_profile_passes_the_gate_where_it_can_run() -> None:
    for profile in ("tiny", "smoke", "mini"):
        validate.check_composed(resolve({"profile": profile}))


def test_the_thresholds_are_the_stages_own(tmp_path: Path) -> None:
    """The batch checks refuse exactly where the trainer's sampler would: one more example than an
    epoch holds is refused, an epoch's worth is not."""
    from benchmark.training.trainer import Sampler

    with pytest.raises(BenchmarkError, match="fewer than one batch"):
        Sampler(119, 120, torch.Generator())
    Sampler(119, 119, torch.Generator())
    validate.check_composed(resolve({**TINY, "training": {"batch_size": 119}}))
    with pytest.raises(BenchmarkError, match="from 119 training images"):
        validate.check_composed(resolve({**TINY, "training": {"batch_size": 120}}))
    validate.check_composed(resolve({**TINY, "arms": ["baseline", "hellaswag"], "training": {"batch_size": 99}}))


def test_the_composition_refuses_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    """`benchmark params --write` composes through the same checks as `dvc exp run -S`: one line, exit 2,
    nothing written."""
    monkeypatch.chdir(tmp_path)
    assert main(["params", "--write", "profile=tiny", "training.batch_size=1000"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("benchmark: error: ") and "\n" not in err and "run coco-contrastive draws 1000" in err
    assert not os.listdir(tmp_path)
