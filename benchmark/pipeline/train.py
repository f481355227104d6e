"""Stage ``train@<run>``: one arm's intermediate training, then its held-out image-use evidence.

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
from pathlib import Path

from collections.abc import Callable

import numpy as np
import torch
from safetensors.numpy import load_file, save_file
from tqdm import tqdm

from benchmark.armspec import ArmSpec, load_run
from benchmark.config import Params
from benchmark.data import coco
from benchmark.determinism import resolve_device, seed_everything
from benchmark.io import atomic_dir, write_json
from benchmark.models import layers
from benchmark.models.encoder import Encoder, load_encoder
from benchmark.pipeline import paths
from benchmark.pipeline.corpus import load_corpus
from benchmark.pipeline.images import load_features
from benchmark.tracking import stage_run
from benchmark.training import checkpoint, evidence
from benchmark.training.datasets import FeatureBank, Questions
from benchmark.training.tasks import ANSWER_VOCAB, caption_vocabulary, image_source, make_data, make_objective
from benchmark.training.trainer import TrainConfig, train

MODEL_INFO = "model.json"


def train_config(params: Params, seed: int) -> TrainConfig:
    t = params.training
    return TrainConfig(steps=t.steps, batch_size=t.batch_size, lr=t.lr, head_lr_scale=t.head_lr_scale, warmup_steps=t.warmup_steps,
                       weight_decay=t.weight_decay, max_length=t.max_length, precision=params.runtime.precision,
                       train_top_layers=t.train_top_layers, checkpoint_every=t.checkpoint_every, keep_last=1,
                       keep_weights=t.selection != "final", seed=seed, log_every=t.log_every)


def _code_sha256() -> str:
    """The training code's source: a checkpoint is only resumed by the code that wrote it (the arm's
    spec is keyed on its own, so an edit to another arm leaves this run's checkpoints valid)."""
    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for path in sorted([*root.glob("training/*.py"), *root.glob("models/*.py"), Path(__file__)]):
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def _config_key(spec: ArmSpec, cfg: TrainConfig, params: Params) -> str:
    # Not the selection protocol: switching it reuses the kept checkpoints (keep_weights is in cfg).
    what = {"arm": spec.model_dump(), "train": cfg.model_dump(mode="json"), "code": _code_sha256(),
            "training": params.training.model_dump(mode="json", exclude={"selection"}),
            "encoder": params.encoder.model_dump(mode="json"), "image": params.image.model_dump(mode="json")}
    return hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()[:12]


def _checkpoint_dir(run_name: str, key: str) -> Path:
    """``checkpoints/<run>/<key>``; checkpoints of any other config or code are stale: removed."""
    root = paths.checkpoints(run_name)
    for old in root.iterdir() if root.is_dir() else []:
        if old.name != key:
            shutil.rmtree(old)
    return root / key


def _tables(spec: ArmSpec) -> dict[str, object]:
    table = coco.load_qa(paths.BUNDLE) if spec.data == "qa" else coco.load_captions(paths.BUNDLE)
    split = np.array([coco.split_of(int(i)) for i in table["image_id"]])
    return {s: table[split == s].reset_index(drop=True) for s in coco.SPLITS}


def _select(params: Params, encoder: Encoder, objective: torch.nn.Module, root: Path,
            log: Callable[[dict[str, float], int], None]) -> tuple[Path, dict]:
    """Score every kept checkpoint by both protocols; load and return the one params choose."""
    # Imported here: it brings scikit-learn (the probe), about a second that training.selection: final skips.
    from benchmark.pipeline import selection

    corpus = load_corpus(params, paths.DATA)
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


def run(params: Params, run_name: str) -> None:
    spec, seed = load_run(paths.runs() / f"{run_name}.json")
    seed_everything(seed, params.runtime.threads)
    device = resolve_device(params.runtime.device)
    out = paths.model(run_name)
    tags = {"arm": spec.name, "run": run_name, "arm.kind": spec.kind, "training.seed": str(seed)}
    with stage_run(f"train/{run_name}", params, device, tags=tags) as run_:
        if not spec.trained:
            paths.checkpoints(run_name).mkdir(parents=True, exist_ok=True)  # the stage's (empty) output
            _export(out, {}, {}, {"run": run_name, "arm": spec.name, "steps": 0})
            budget = {"steps": 0, "examples": 0, "text_tokens": 0, "prefix_tokens": 0, "image_views": 0}
            run_.log_metrics(budget)
            write_json(paths.stage_metrics("train", run_name), {"budget": budget, "mlflow_run_id": run_.run_id})
            return

        cfg = train_config(params, seed)
        encoder = load_encoder(params.encoder, seed=params.seed, device=device)
        tok = encoder.tokenizer
        image_ids, features = load_features()
        bank = FeatureBank(image_ids.tolist(), features)
        tables = _tables(spec)
        train_table, heldout = tables["train"], tables["heldout"]
        answers = Questions.vocabulary(train_table, ANSWER_VOCAB) if spec.data == "qa" else None
        source = image_source(spec, train_table["image_id"].astype(int).tolist(), seed)
        data = make_data(spec, train_table, tok, cfg.max_length, bank, source, answers)
        vocabulary = caption_vocabulary(data, tok) \
            if spec.objective == "mlm" and params.training.mlm_vocabulary == "captions" else None
        objective = make_objective(spec, encoder.model, tok, bank, seed=seed,
                                   num_answers=len(answers) if answers else None, vocabulary=vocabulary)
        run_.log_params({"arm.objective": spec.objective, "arm.data": spec.data, "arm.image": spec.image,
                         "train.items": len(data), "train.images": train_table["image_id"].nunique(),
                         **({"train.mlm_candidates": len(vocabulary) if vocabulary else "all"}
                            if spec.objective == "mlm" else {})})

        ckpt_dir = _checkpoint_dir(run_name, _config_key(spec, cfg, params))
        t0 = time.perf_counter()
        n_frozen = layers.frozen_layers(encoder.model, cfg.train_top_layers)
        if n_frozen and objective.memoizable:  # the training texts' frozen states, once, not every step
            objective.memo = layers.BottomMemo()
            objective.memo.fill(encoder.model.to(device), data.token_rows(), n_frozen, tok.pad_token_id)
        final = train(objective, data, cfg, ckpt_dir, device=device,
                      log=lambda step, m: run_.log_metrics({f"train.{k}": v for k, v in m.items()}, step=step))
        train_s = time.perf_counter() - t0
        chosen, picked = final, {}
        if params.training.selection != "final":
            chosen, picked = _select(params, encoder, objective, ckpt_dir,
                                     lambda m, step: run_.log_metrics(m, step=step))
            run_.log_metrics({f"select.chosen_step.{p}": s for p, s in picked["chosen_step"].items()})
        totals = checkpoint.loop_state(final)["totals"]
        evidence_metrics = evidence.evaluate(spec, objective.cpu(), heldout, tok, cfg.max_length, bank,
                                             train_table=train_table, answers=answers)
        budget = {"steps": cfg.steps, "batch_size": cfg.batch_size, "max_length": cfg.max_length,
                  "train_top_layers": cfg.train_top_layers or 0, **{k: int(v) for k, v in totals.items()},
                  **({"decoder_candidates": len(vocabulary)} if vocabulary else {}),
                  "image_views": int(totals["examples"]) if spec.uses_images else 0,
                  "trainable_parameters": sum(p.numel() for p in objective.parameters() if p.requires_grad)}
        cost = {"train_s": train_s, "s_per_step": train_s / cfg.steps,
                "examples_per_s": totals["examples"] / train_s if train_s > 0 else 0.0}
        info = {"run": run_name, "arm": spec.name, "seed": seed, "steps": cfg.steps,
                "train_top_layers": cfg.train_top_layers, "weights_sha256": checkpoint.weights_sha256(chosen)}
        if picked:
            info["selected_step"] = picked["chosen_step"][picked["protocol"]]
        _export(out, load_file(str(chosen / checkpoint.ENCODER_FILE)), load_file(str(chosen / checkpoint.HEADS_FILE)),
                info)
        run_.log_metrics({**{f"budget.{k}": v for k, v in budget.items()}, **cost, **evidence_metrics})
        run_.set_tags({"checkpoint": str(chosen), "weights_sha256": checkpoint.weights_sha256(chosen)})
        write_json(paths.stage_metrics("train", run_name),
                   {"budget": budget, "evidence": evidence_metrics, "cost": cost,
                    **({"selection": picked} if picked else {}), "mlflow_run_id": run_.run_id})
