"""Stage ``train@<run>``: one arm's intermediate training, then its held-out evidence.

Reads as setup -> train -> select -> export. *Setup* turns the run's arm spec into an objective,
its data and its evidence: the multimodal arms and their controls train on COCO (evidence: image
use on held-out images), the textual arms on English tasks (evidence: held-out accuracy against
chance and against the frozen pretrained encoder with the same head), the positive control on
translation pairs (evidence: held-out translation retrieval against the pretrained encoder).

Writes ``artifacts/models/<run>/`` (the trained tensors: top layers and heads, see
:mod:`benchmark.training.checkpoint`) and ``metrics/train/<run>.json`` (budget, cost, evidence).
Checkpoints go to ``checkpoints/<run>/<config key>/``, a DVC ``persist`` output: a killed
``dvc repro`` resumes from the newest one, bit-identically; a changed config starts afresh beside it.

With ``training.selection`` other than ``final`` every checkpoint's weights are kept and scored by
both model-selection protocols (:mod:`benchmark.pipeline.selection`); the chosen one is exported.

``baseline`` trains for 0 steps: its model directory holds no tensors, i.e. the pretrained encoder,
so every run reaches the targets through the same code.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.numpy import load_file, save_file
from tqdm import tqdm

from benchmark import paths
from benchmark.armspec import ArmSpec, load_run
from benchmark.config import Params
from benchmark.data import coco
from benchmark.data.tasks import TASKS, rows_per_example
from benchmark.determinism import resolve_device, seed_everything
from benchmark.io import atomic_dir, write_json
from benchmark.models import layers
from benchmark.models.encoder import Encoder, load_encoder
from benchmark.pipeline import selection
from benchmark.pipeline.parallel_data import MEMO as PARALLEL_MEMO
from benchmark.pipeline.parallel_data import parallel_data
from benchmark.pipeline.task_data import HELDOUT_EXAMPLES, task_tables
from benchmark.pipeline.task_memo import load_memo
from benchmark.targets.corpus import load_corpus
from benchmark.tracking import stage_run
from benchmark.training import checkpoint, distributed, parallel_evidence
from benchmark.training import evidence as image_evidence
from benchmark.training.datasets import FeatureBank, Questions
from benchmark.training.multitask import MultiTaskData, MultiTaskObjective
from benchmark.training.objectives import Contrastive, Objective
from benchmark.training.tasks import ANSWER_VOCAB, caption_vocabulary, image_source, make_data, make_objective
from benchmark.training.text_data import make_task_data
from benchmark.training.text_evidence import task_evidence
from benchmark.training.text_objectives import make_text_objective
from benchmark.training.trainer import TrainData, train

MODEL_INFO = "model.json"


def _code_sha256() -> str:
    """The training code's source: a checkpoint is only resumed by the code that wrote it (the arm's
    spec is keyed on its own, so an edit to another arm leaves this run's checkpoints valid)."""
    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for path in sorted([*root.glob("training/*.py"), *root.glob("models/*.py"), Path(__file__)]):
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def _config_key(spec: ArmSpec, params: Params, seed: int) -> str:
    # Not the selection protocol: switching it reuses the kept checkpoints (whether older weights are
    # kept is in the key, so a run that pruned them is not mistaken for one that kept them).
    what = {"arm": spec.model_dump(), "seed": seed, "precision": params.runtime.precision,
            "keep_weights": params.training.selection != "final", "code": _code_sha256(),
            "training": params.training.model_dump(mode="json", exclude={"selection"}),
            "encoder": params.encoder.model_dump(mode="json"), "image": params.image.model_dump(mode="json")}
    if (world := distributed.world()) > 1:  # torchrun: its own checkpoints (other dropout streams)
        what["world_size"] = world
    return hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()[:12]


def _checkpoint_dir(run_name: str, key: str) -> Path:
    """``checkpoints/<run>/<key>``; checkpoints of any other config or code are stale: removed."""
    root = paths.checkpoints(run_name)
    for old in root.iterdir() if root.is_dir() else []:
        if old.name != key:
            shutil.rmtree(old)
    return root / key


@dataclass
class Setup:
    """What a run trains and how it proves it learned: objective, data, held-out evidence."""

    objective: Objective
    data: TrainData
    evidence: Callable[[Objective], dict[str, float]]
    log_params: dict[str, object]  # what MLflow records about the data
    budget: dict[str, float]  # data-side budget figures (truncation) beside the loop's own totals


def _coco(spec: ArmSpec, params: Params, encoder: Encoder, seed: int) -> Setup:
    tok, max_length = encoder.tokenizer, params.training.max_length
    bank = FeatureBank.load(paths.image_features())
    table = coco.load_qa(paths.BUNDLE) if spec.data == "qa" else coco.load_captions(paths.BUNDLE)
    split = np.array([coco.split_of(int(i)) for i in table["image_id"]])
    train_table, heldout = (table[split == s].reset_index(drop=True) for s in ("train", "heldout"))
    answers = Questions.vocabulary(train_table, ANSWER_VOCAB) if spec.data == "qa" else None
    source = image_source(spec, train_table["image_id"].astype(int).tolist(), seed)
    data = make_data(spec, train_table, tok, max_length, bank, source, answers)
    vocabulary = caption_vocabulary(data, tok) \
        if spec.objective == "mlm" and params.training.mlm_vocabulary == "captions" else None
    objective = make_objective(spec, encoder.model, tok, bank, seed=seed,
                               num_answers=len(answers) if answers else None, vocabulary=vocabulary)
    logged = {"arm.objective": spec.objective, "arm.data": spec.data, "arm.image": spec.image,
              "train.items": len(data), "train.images": train_table["image_id"].nunique(),
              **({"train.mlm_candidates": len(vocabulary) if vocabulary else "all"} if spec.objective == "mlm" else {})}
    return Setup(objective, data,
                 lambda trained: image_evidence.evaluate(spec, trained, heldout, tok, max_length, bank,
                                                         train_table=train_table, answers=answers),
                 logged, {"decoder_candidates": len(vocabulary)} if vocabulary else {})


def _parallel(spec: ArmSpec, params: Params, encoder: Encoder, seed: int) -> Setup:
    """The positive control: English-X InfoNCE on the translations of lines no target scores."""
    data, heldout, logged = parallel_data(params, encoder.tokenizer)
    objective = Contrastive(encoder.model, image_dim=None, seed=seed)
    if layers.frozen_layers(encoder.model, params.training.train_top_layers):  # from stage task-states
        objective.memo = load_memo(encoder, [PARALLEL_MEMO])

    def evidence(trained: Objective) -> dict[str, float]:
        pretrained = load_encoder(params.encoder, seed=params.seed, device=str(next(trained.parameters()).device))
        return parallel_evidence.evaluate(encoder, pretrained, heldout, prefix=params.encoder.prefix,
                                          batch_size=params.encoder.batch_size)

    return Setup(objective, data, evidence, {"arm.objective": spec.objective, "arm.data": spec.data, **logged}, {})


def _setup(spec: ArmSpec) -> Callable[[ArmSpec, Params, Encoder, int], Setup]:
    return {"textual": _textual, "positive": _parallel}.get(spec.kind, _coco)


def _textual(spec: ArmSpec, params: Params, encoder: Encoder, seed: int) -> Setup:
    tok, t = encoder.tokenizer, params.training
    tables = {task: task_tables(params, task) for task in spec.tasks}
    datas = {task: make_task_data(TASKS[task].format, tables[task]["train"], tok, t.max_length) for task in spec.tasks}
    heads = {task: make_text_objective(TASKS[task].format, encoder.model, TASKS[task].num_labels, seed)
             for task in spec.tasks}
    if len(spec.tasks) == 1:
        (task,) = spec.tasks
        data, objective = datas[task], heads[task]
    else:
        data = MultiTaskData(datas, cap=spec.mixing_cap)
        objective = MultiTaskObjective(encoder.model, heads, seed=seed)  # one encoder, one head per task
    if layers.frozen_layers(encoder.model, t.train_top_layers):  # the rows' frozen states, from stage task-states
        objective.memo = load_memo(encoder, list(spec.tasks))

    def evidence(trained: Objective) -> dict[str, float]:
        pretrained = load_encoder(params.encoder, seed=params.seed, device=str(next(trained.parameters()).device))
        out: dict[str, float] = {}
        for task in spec.tasks:
            task_spec = TASKS[task]
            head = trained if len(spec.tasks) == 1 else trained.task(task)  # type: ignore[operator]
            fit, heldout = (make_task_data(task_spec.format, tables[task][part], tok, t.max_length)
                            for part in ("fit", "heldout"))
            scores = task_evidence(head, pretrained.model, fit, heldout, task_spec.format, task_spec.metric,
                                   task_spec.chance, budget=t, seed=seed, max_heldout=HELDOUT_EXAMPLES)
            out |= {k.replace("heldout.", f"heldout.{task}.", 1): v for k, v in scores.items()}
        return out

    truncation = {task: d.truncation() for task, d in datas.items()}
    sequences = sum(x["sequences"] for x in truncation.values())
    logged = {"arm.objective": "task", "arm.data": spec.data, "arm.tasks": ",".join(spec.tasks),
              **{f"train.items.{task}": len(d) for task, d in datas.items()},
              **({"train.mixing": f"examples-proportional, cap {spec.mixing_cap}",
                  **{f"train.mixing_p.{task}": p for task, p in data.probabilities().items()}}  # type: ignore[attr-defined]
                 if len(spec.tasks) > 1 else {})}
    budget = {"truncated_share": sum(x["truncated"] for x in truncation.values()) / max(sequences, 1),
              **{f"truncated_share.{task}": x["truncated"] / max(x["sequences"], 1) for task, x in truncation.items()}}
    return Setup(objective, data, evidence, logged, budget)


def _select(params: Params, encoder: Encoder, objective: torch.nn.Module, root: Path,
            log: Callable[[dict[str, float], int], None]) -> tuple[Path, dict]:
    """Score every kept checkpoint by both protocols; load and return the one params choose."""
    corpus = load_corpus(params.context(paths.DATA))
    candidates = []
    for ckpt in tqdm(checkpoint.checkpoints(root), desc="select", unit="checkpoint"):
        checkpoint.load_weights(ckpt, objective)
        scores = selection.dev_scores(encoder, params, corpus)
        step = int(ckpt.name.removeprefix("step-"))
        log({f"select.{k}": v for k, v in scores.items()}, step)
        candidates.append({"step": step, **scores})
    chosen = {p: selection.choose(candidates, p) for p in selection.PROTOCOLS}
    ckpt = checkpoint.step_dir(root, chosen[params.training.selection])
    checkpoint.load_weights(ckpt, objective)
    return ckpt, {"protocol": params.training.selection, "chosen_step": chosen, "candidates": candidates}


def _export(out: Path, encoder: dict[str, np.ndarray], heads: dict[str, np.ndarray], info: dict) -> None:
    with atomic_dir(out) as tmp:
        save_file(encoder, str(tmp / checkpoint.ENCODER_FILE))
        save_file(heads, str(tmp / checkpoint.HEADS_FILE))
        (tmp / MODEL_INFO).write_text(json.dumps(info, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _fit(params: Params, encoder: Encoder, setup: Setup, ckpt_dir: Path, seed: int, device: str,
         log: Callable[[int, dict[str, float]], None] | None) -> Path:
    """The run's training, on every rank under torchrun (the trainer lets only rank 0 write)."""
    t, objective = params.training, setup.objective
    n_frozen = layers.frozen_layers(encoder.model, t.train_top_layers)
    if n_frozen and objective.memoizable and objective.memo is None:
        # The training texts' frozen states once, not every step: COCO's captions recur epoch after
        # epoch (the textual arms' and the positive control's rows come precomputed from stage task-states).
        objective.memo = layers.BottomMemo()
        objective.memo.fill(encoder.model.to(device), setup.data.token_rows(), n_frozen,  # type: ignore[attr-defined]
                            encoder.tokenizer.pad_token_id)
    return train(objective, setup.data, t, ckpt_dir, seed=seed, precision=params.runtime.precision,
                 keep_last=1, keep_weights=t.selection != "final", device=device, log=log, data_parallel=True)


def run(params: Params, run_name: str) -> None:
    spec, seed = load_run(paths.runs() / f"{run_name}.json")
    seed_everything(seed, params.runtime.threads)
    device = distributed.local_device(resolve_device(params.runtime.device))
    owned = False
    if spec.trained and (world := distributed.world()) > 1:
        # torchrun: the ranks meet first, then check that every global batch splits into equal
        # shards; if not, rank 0 says so in one line before anything is written (the others wait).
        owned = distributed.start(torch.device(device))
        distributed.check_divisible(params.training.batch_size, rows_per_example(spec.tasks), world)
    if distributed.rank() != 0:
        # Under torchrun rank 0 writes everything this stage writes (checkpoints, MLflow, model,
        # metrics); the other ranks only train with it.
        if spec.trained:
            encoder = load_encoder(params.encoder, seed=params.seed, device=device)
            setup = _setup(spec)(spec, params, encoder, seed)
            _fit(params, encoder, setup, paths.checkpoints(run_name) / _config_key(spec, params, seed), seed,
                 device, log=None)
            distributed.finish(owned, barrier=False)  # the trainer's last barrier was the rendezvous
        return
    out = paths.model(run_name)
    tags = {"arm": spec.name, "run": run_name, "arm.kind": spec.kind, "training.seed": str(seed)}
    with checkpoint.exclusive(paths.checkpoints(run_name)), \
            stage_run(f"train/{run_name}", params, device, tags=tags) as run_:
        if not spec.trained:
            paths.checkpoints(run_name).mkdir(parents=True, exist_ok=True)  # the stage's (empty) output
            _export(out, {}, {}, {"run": run_name, "arm": spec.name, "steps": 0})
            budget = {"steps": 0, "examples": 0, "rows": 0, "text_tokens": 0, "prefix_tokens": 0, "image_views": 0}
            run_.log_metrics(budget)
            write_json(paths.stage_metrics("train", run_name), {"budget": budget, "mlflow_run_id": run_.run_id})
            return

        # Setup: the arm's objective, data and evidence.
        t = params.training
        encoder = load_encoder(params.encoder, seed=params.seed, device=device)
        setup = _setup(spec)(spec, params, encoder, seed)
        objective = setup.objective
        run_.log_params(setup.log_params)
        if (world := distributed.world()) > 1:
            run_.log_params({"train.world_size": world})

        # Train (resuming from this config's newest intact checkpoint, if a killed run left one).
        ckpt_dir = _checkpoint_dir(run_name, _config_key(spec, params, seed))
        t0 = time.perf_counter()
        final = _fit(params, encoder, setup, ckpt_dir, seed, device,
                     log=lambda step, m: run_.log_metrics({f"train.{k}": v for k, v in m.items()}, step=step))
        train_s = time.perf_counter() - t0
        if owned:  # the rest (selection, evidence, export) is rank 0's alone
            distributed.finish(owned, barrier=False)

        # Select: with training.selection other than final, every kept checkpoint is a candidate.
        chosen, picked = final, {}
        if t.selection != "final":
            chosen, picked = _select(params, encoder, objective, ckpt_dir,
                                     lambda m, step: run_.log_metrics(m, step=step))
            run_.log_metrics({f"select.chosen_step.{p}": s for p, s in picked["chosen_step"].items()})

        # Evidence on held-out items, then export the chosen weights.
        totals = checkpoint.loop_state(final)["totals"]
        evidence_metrics = setup.evidence(objective.cpu())
        budget = {"steps": t.steps, "batch_size": t.batch_size, "max_length": t.max_length,
                  "train_top_layers": t.train_top_layers or 0, **{k: int(v) for k, v in totals.items()},
                  **setup.budget, "image_views": int(totals["examples"]) if spec.uses_images else 0,
                  "trainable_parameters": sum(p.numel() for p in objective.parameters() if p.requires_grad)}
        cost = {"train_s": train_s, "s_per_step": train_s / t.steps,
                "examples_per_s": totals["examples"] / train_s if train_s > 0 else 0.0}
        checkpoint.verify(chosen)  # what is exported is what training wrote, byte for byte
        weights = checkpoint.weights_sha256(chosen)
        info = {"run": run_name, "arm": spec.name, "seed": seed, "steps": t.steps,
                "train_top_layers": t.train_top_layers, "weights_sha256": weights}
        if picked:
            info["selected_step"] = picked["chosen_step"][picked["protocol"]]
        _export(out, load_file(str(chosen / checkpoint.ENCODER_FILE)), load_file(str(chosen / checkpoint.HEADS_FILE)),
                info)
        run_.log_metrics({**{f"budget.{k}": v for k, v in budget.items()}, **cost, **evidence_metrics})
        run_.set_tags({"checkpoint": str(chosen), "weights_sha256": weights})
        write_json(paths.stage_metrics("train", run_name),
                   {"budget": budget, "evidence": evidence_metrics, "cost": cost,
                    **({"selection": picked} if picked else {}), "mlflow_run_id": run_.run_id})
