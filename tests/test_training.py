"""The training layer: objectives learn and use the image, one loop, kill-and-resume bit-identity.

Inputs are unit-level: real English text (the bundled FLORES-200 ``eng_Latn`` lines SIB-200 uses)
as "captions"/"questions", and image features from a fixed seeded tensor ``[N, P, D]`` standing in
for the image encoder's patches (its own tests cover real pixels). The encoder is the ``tiny``
profile's: random-init 2 x 64 BertModel with the real XLM-R vocabulary.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from trainkit import Budget, budget, tiny_encoder

from benchmark.data.flores import load_sentences
from benchmark.io import BenchmarkError
from benchmark.training import checkpoint
from benchmark.training.objectives import (
    AnswerClassification,
    Contrastive,
    ImageSource,
    MaskedLM,
    Objective,
    derangement,
    mean_pool,
    tokenize,
)
from benchmark.training.trainer import Sampler, set_trainable

REPO = Path(__file__).resolve().parents[1]
N_ITEMS, PATCHES, IMAGE_DIM, ANSWERS, MAX_LENGTH = 8, 4, 32, 10, 32
TIMING = {"examples_per_s", "tokens_per_s"}  # wall-clock metrics: the only ones allowed to differ
KINDS = ["contrastive-image", "contrastive-text", "mlm-prefix", "mlm-text", "vqa-prefix"]



class Items:
    """``N_ITEMS`` English FLORES sentences, item i showing image i (features: a seeded tensor)."""

    def __init__(self, tokenizer, kind: str, source: ImageSource | None = None) -> None:
        self.tokenizer, self.kind = tokenizer, kind
        self.source = source or ImageSource("true")
        self.texts = load_sentences(langs=["eng_Latn"])["eng_Latn"].tolist()[:N_ITEMS]
        g = torch.Generator().manual_seed(1234)
        self.bank = torch.randn(N_ITEMS, PATCHES, IMAGE_DIM, generator=g)
        scores = torch.zeros(N_ITEMS, ANSWERS)
        scores[torch.arange(N_ITEMS), torch.randint(ANSWERS, (N_ITEMS,), generator=g)] = 1.0
        scores[torch.arange(N_ITEMS), torch.randint(ANSWERS, (N_ITEMS,), generator=g)] += 0.3
        self.scores = scores.clamp(max=1.0)

    def __len__(self) -> int:
        return N_ITEMS

    def batch(self, indices: list[int]) -> dict:
        prefix = self.kind.endswith("-prefix")
        batch = tokenize(self.tokenizer, [self.texts[i] for i in indices], MAX_LENGTH,
                         reserve=PATCHES if prefix else 0)
        batch["image_ids"] = torch.tensor(indices)
        features = self.source.features(indices, self.bank, {i: i for i in range(N_ITEMS)})
        if features is not None and (prefix or self.kind == "contrastive-image"):
            batch["image_features"] = features
        if self.kind == "contrastive-text":  # a second "caption": the first half of the sentence
            pair = tokenize(self.tokenizer, [" ".join(self.texts[i].split()[:8]) for i in indices], MAX_LENGTH)
            batch |= {"pair_input_ids": pair["input_ids"], "pair_attention_mask": pair["attention_mask"]}
        if self.kind.startswith("vqa"):
            batch["answer_scores"] = self.scores[indices]
        return batch


def make(kind: str, seed: int = 0) -> tuple[Objective, Items]:
    enc = tiny_encoder()
    image_dim = IMAGE_DIM if kind in ("contrastive-image", "mlm-prefix", "vqa-prefix") else None
    if kind.startswith("contrastive"):
        obj: Objective = Contrastive(enc.model, image_dim=image_dim, proj_dim=32, seed=seed)
    elif kind.startswith("mlm"):
        obj = MaskedLM(enc.model, enc.tokenizer, image_dim=image_dim, seed=seed)
    else:
        obj = AnswerClassification(enc.model, num_answers=ANSWERS, image_dim=image_dim, seed=seed)
    return obj, Items(enc.tokenizer, kind)


def _cfg(**kw) -> Budget:
    base = {"steps": 20, "batch_size": N_ITEMS, "lr": 1e-3, "warmup_steps": 2, "max_length": MAX_LENGTH,
            "log_every": 1, "checkpoint_every": 1000}
    return budget(**(base | kw))


# --- objectives --------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.slow
def test_loss_decreases(kind: str, tmp_path: Path) -> None:
    obj, data = make(kind)
    losses: dict[int, float] = {}
    # MLM's decoder is tied to the word embeddings, so it learns through them (random-init: tiny
    # norms); the other objectives train faster with the 250k-row matrix frozen.
    cfg = _cfg(lr=1e-2, freeze_word_embeddings=not kind.startswith("mlm"))
    cfg.train(obj, data, tmp_path, log=lambda s, m: losses.update({s: m["loss"]}), progress=False)
    first, last = sum(losses[s] for s in (1, 2, 3)) / 3, sum(losses[s] for s in (18, 19, 20)) / 3
    print(f"{kind}: loss {first:.3f} -> {last:.3f}")
    assert last < 0.8 * first


@pytest.mark.parametrize("kind", KINDS)
def test_gradient_reaches_trainable_layers_only(kind: str) -> None:
    torch.manual_seed(0)
    obj, data = make(kind)
    set_trainable(obj.encoder, top_layers=1)
    obj.train()
    loss, _ = obj(data.batch(list(range(N_ITEMS))))
    loss.backward()
    top, bottom = obj.encoder.encoder.layer[-1], obj.encoder.encoder.layer[0]
    for name, p in top.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, f"no gradient at top layer {name}"
    for name, p in [*bottom.named_parameters(), *obj.encoder.embeddings.named_parameters()]:
        assert p.grad is None and not p.requires_grad, f"frozen {name} got a gradient"
    for name, p in obj.head_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, f"no gradient at head {name}"


def test_whole_encoder_trains_by_default() -> None:
    obj, data = make("mlm-prefix")
    set_trainable(obj.encoder, top_layers=None)
    obj(data.batch(list(range(N_ITEMS))))[0].backward()
    word = obj.encoder.embeddings.word_embeddings.weight
    assert word.grad is not None and word.grad.abs().sum() > 0  # via the input and the tied decoder
    assert all(p.grad is not None for p in obj.encoder.encoder.layer[0].parameters())


def test_visual_prefix_is_used() -> None:
    obj, data = make("mlm-prefix")
    obj.eval()
    batch = data.batch(list(range(N_ITEMS)))
    batch["input_ids"], batch["labels"] = obj.mask_tokens(batch["input_ids"], batch["attention_mask"])
    with torch.no_grad():
        true_loss, _ = obj(batch)
        zero_loss, _ = obj(batch | {"image_features": torch.zeros_like(batch["image_features"])})
        hidden_true, mask = obj.encode(batch["input_ids"], batch["attention_mask"], batch["image_features"])
        hidden_zero, _ = obj.encode(batch["input_ids"], batch["attention_mask"],
                                    torch.zeros_like(batch["image_features"]))
    assert mask.shape[1] == PATCHES + batch["input_ids"].shape[1]
    assert true_loss.item() != zero_loss.item()
    text = slice(PATCHES, None)
    assert not torch.allclose(hidden_true[:, text], hidden_zero[:, text])


def test_masking_spares_special_tokens_and_is_seeded() -> None:
    obj, data = make("mlm-text")
    batch = data.batch(list(range(N_ITEMS)))
    specials = torch.isin(batch["input_ids"], torch.tensor(data.tokenizer.all_special_ids))
    masked, labels = obj.mask_tokens(batch["input_ids"], batch["attention_mask"])
    chosen = labels != -100
    assert chosen.any() and not (chosen & specials).any()
    assert torch.equal(masked[~chosen], batch["input_ids"][~chosen])
    assert 0.05 < chosen.sum() / (~specials & batch["attention_mask"].bool()).sum() < 0.3
    again, _ = MaskedLM(obj.encoder, data.tokenizer, seed=0).mask_tokens(batch["input_ids"], batch["attention_mask"])
    assert torch.equal(masked, again)


def test_contrastive_refuses_an_image_twice() -> None:
    obj, data = make("contrastive-image")
    batch = data.batch([0, 1, 2, 3])
    batch["image_ids"] = torch.tensor([0, 1, 2, 0])
    with pytest.raises(ValueError, match="image twice"):
        obj(batch)


# --- image controls and sampling ---------------------------------------------------------------

def test_derangement() -> None:
    ids = list(range(50))
    a = derangement(ids, seed=0)
    assert sorted(a) == ids and sorted(a.values()) == ids  # a permutation
    assert all(a[i] != i for i in ids)  # no fixed point
    assert a == derangement(list(reversed(ids)), seed=0)  # deterministic, order-free
    assert a != derangement(ids, seed=1)
    assert all(derangement([3, 7], s) == {3: 7, 7: 3} for s in range(3))
    with pytest.raises(ValueError):
        derangement([5], seed=0)


def test_image_source() -> None:
    bank = torch.arange(4.0).view(4, 1, 1)
    rows = {10: 0, 11: 1, 12: 2, 13: 3}
    shuffled = ImageSource("shuffled", list(rows), seed=0)
    got = shuffled.features([10, 11, 12, 13, 10], bank, rows).flatten().tolist()
    assert all(got[i] != i for i in range(4)) and got[4] == got[0]  # per image, consistent
    assert ImageSource("true").features([12], bank, rows).item() == 2.0
    assert ImageSource("none").features([12], bank, rows) is None


def test_sampler_one_member_per_group() -> None:
    groups = [i // 5 for i in range(40)]  # 8 images x 5 captions
    sampler = Sampler(40, 4, torch.Generator().manual_seed(0), groups)
    seen_epoch0 = []
    for _ in range(6):  # 2 batches per epoch
        idx = sampler.next()
        assert len({groups[i] for i in idx}) == len(idx) == 4
        seen_epoch0 += idx if sampler.epoch == 0 else []
    assert sorted(groups[i] for i in seen_epoch0) == list(range(8))


# --- the loop: determinism, kill and resume ---------------------------------------------------

RESUME_CFG = {"steps": 8, "checkpoint_every": 3, "log_every": 2, "warmup_steps": 2, "grad_accum": 2,
              "batch_size": 4, "freeze_word_embeddings": True}  # the 250k-row matrix: 3x the checkpoint bytes


def run_training(out_dir: str, metrics_path: str, seed: int = 0, delay: float = 0.0,
                 checkpoint_every: int = RESUME_CFG["checkpoint_every"]) -> str:
    """Entry point shared by the in-process reference run and the subprocesses of the kill test:
    MLM with a visual prefix, every encoder layer trainable; every logged line appended to a JSONL file."""
    torch.set_num_threads(2)
    obj, data = make("mlm-prefix")
    cfg = _cfg(**(RESUME_CFG | {"seed": seed, "checkpoint_every": checkpoint_every}))

    def log(step: int, metrics: dict[str, float]) -> None:
        with open(metrics_path, "a", encoding="utf-8") as f:
            f.write(json.dumps({"step": step, **metrics}) + "\n")
        time.sleep(delay)  # gives the test time to kill between checkpoints; changes no result

    final = cfg.train(obj, data, out_dir, log=log, progress=False)
    return checkpoint.weights_sha256(final)


def _metrics(path: Path) -> dict[int, dict[str, float]]:
    rows = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    return {r.pop("step"): {k: v for k, v in r.items() if k not in TIMING} for r in rows}


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[int, dict[str, float]]]:
    d = tmp_path_factory.mktemp("reference")
    sha = run_training(str(d / "ckpt"), str(d / "metrics.jsonl"))
    return sha, _metrics(d / "metrics.jsonl")


def _spawn(out_dir: Path, metrics: Path, delay: float) -> subprocess.Popen:
    code = ("import sys; sys.path.insert(0, 'tests'); import test_training as t; "
            "print(t.run_training(sys.argv[1], sys.argv[2], delay=float(sys.argv[3])))")
    return subprocess.Popen([sys.executable, "-c", code, str(out_dir), str(metrics), str(delay)],
                            cwd=REPO, stdout=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_kill_and_resume_is_bit_identical(reference, tmp_path: Path) -> None:
    ref_sha, ref_metrics = reference
    ckpt, metrics = tmp_path / "ckpt", tmp_path / "metrics.jsonl"
    proc = _spawn(ckpt, metrics, delay=0.5)
    deadline = time.monotonic() + 120
    while checkpoint.latest(ckpt) is None:
        assert proc.poll() is None, "training ended before its first checkpoint"
        assert time.monotonic() < deadline, "no checkpoint within 120 s"
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    resumed_from = int(checkpoint.latest(ckpt).name.split("-")[1])
    print(f"killed after step {resumed_from}; metrics so far: {sorted(_metrics(metrics))}")
    assert resumed_from < RESUME_CFG["steps"], "killed too late: nothing left to resume"
    metrics.unlink(missing_ok=True)

    proc = _spawn(ckpt, metrics, delay=0.0)
    out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0
    after = _metrics(metrics)
    assert after and min(after) > resumed_from
    assert out.strip() == ref_sha
    assert after == {s: ref_metrics[s] for s in after}


@pytest.mark.slow
def test_same_seed_same_weights_other_seed_other(reference, tmp_path: Path) -> None:
    ref_sha, ref_metrics = reference
    once = {"checkpoint_every": 100}  # only the final checkpoint: changes no result, writes less
    assert run_training(str(tmp_path / "a"), str(tmp_path / "a.jsonl"), seed=0, **once) == ref_sha
    assert _metrics(tmp_path / "a.jsonl") == ref_metrics
    assert run_training(str(tmp_path / "b"), str(tmp_path / "b.jsonl"), seed=1, **once) != ref_sha


def test_checkpoint_is_atomic_and_safe_to_load(tmp_path: Path) -> None:
    obj, data = make("vqa-prefix")
    cfg = _cfg(steps=2, warmup_steps=0, train_top_layers=1, checkpoint_every=1, keep_last=1)
    final = cfg.train(obj, data, tmp_path, progress=False)
    assert [p.name for p in checkpoint.checkpoints(tmp_path)] == ["step-00000002"]  # keep_last pruned step 1
    (tmp_path / ".step-00000009.abc.tmp").mkdir()  # what a writer killed mid-write leaves
    (tmp_path / "step-00000010").mkdir()  # not complete: no files
    assert checkpoint.latest(tmp_path) == final
    state = torch.load(final / checkpoint.STATE_FILE, weights_only=True)
    assert state["step"] == 2 and "data" in state["rng"]["generators"]
    # Finished: running again returns the final checkpoint without training; a changed config refuses.
    assert cfg.update(keep_last=None).train(obj, data, tmp_path, progress=False) == final
    with pytest.raises(BenchmarkError, match="different training config"):
        _cfg(steps=3, warmup_steps=0, train_top_layers=1).train(obj, data, tmp_path, progress=False)


def _flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def test_a_corrupted_checkpoint_is_never_resumed_selected_or_exported(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """A flipped byte in the newest checkpoint: verify names the file; resuming passes over it, says
    so, and retrains from the one before it to the same bytes the intact run wrote."""
    obj, data = make("contrastive-image")
    cfg = _cfg(steps=4, warmup_steps=0, train_top_layers=1, checkpoint_every=2)
    final = cfg.train(obj, data, tmp_path, progress=False)
    intact = {f: (final / f).read_bytes() for f in (checkpoint.ENCODER_FILE, checkpoint.HEADS_FILE)}
    checkpoint.verify(final)
    _flip(final / checkpoint.ENCODER_FILE)
    with pytest.raises(BenchmarkError, match=r"step-00000004/encoder.safetensors: corrupted \(sha256 "):
        checkpoint.verify(final)
    with pytest.raises(BenchmarkError, match="corrupted"):
        checkpoint.load_weights(final, obj)
    assert checkpoint.latest(tmp_path) == checkpoint.step_dir(tmp_path, 2)
    assert "step-00000004/encoder.safetensors: corrupted" in capsys.readouterr().err
    fresh, _ = make("contrastive-image")
    assert cfg.train(fresh, data, tmp_path, progress=False) == final  # resumed from step 2, step 4 rewritten
    assert {f: (final / f).read_bytes() for f in intact} == intact
    (final / checkpoint.SUMS_FILE).unlink()
    with pytest.raises(BenchmarkError, match="checksums unreadable"):
        checkpoint.verify(final)


def test_one_trainer_per_checkpoint_folder(tmp_path: Path) -> None:
    """A rerun while an orphaned training still writes the same run is refused in one line; the lock
    goes with its holder (the kernel drops it when the process dies), beside the folder, not in it."""
    root = tmp_path / "checkpoints" / "coco-contrastive"
    with checkpoint.exclusive(root):
        with pytest.raises(BenchmarkError, match="another training of this run is writing here"):
            with checkpoint.exclusive(root):
                pass
        code = ("import sys; from benchmark.training import checkpoint\n"
                "with checkpoint.exclusive(sys.argv[1]): pass")
        other = subprocess.run([sys.executable, "-c", code, str(root)], capture_output=True, text=True)
        assert other.returncode != 0 and "another training of this run is writing here" in other.stderr
    with checkpoint.exclusive(root):  # released
        pass
    assert not root.exists() and (tmp_path / "checkpoints" / ".coco-contrastive.lock").is_file()


def test_bf16_autocast_runs_on_cpu(tmp_path: Path) -> None:
    """bf16 autocast is no longer CUDA-only: the full profile's precision path rehearses on CPU."""
    obj, data = make("vqa-prefix")
    losses: dict[int, float] = {}
    _cfg(steps=2, warmup_steps=0, precision="bf16").train(obj, data, tmp_path, device="cpu", progress=False,
                                                         log=lambda s, m: losses.update({s: m["loss"]}))
    assert checkpoint.latest(tmp_path) is not None and all(map(math.isfinite, losses.values()))


def test_text_pooling_matches_encoder_embed() -> None:
    obj, data = make("contrastive-text")
    enc = dataclasses.replace(tiny_encoder(), model=obj.encoder)
    texts = data.texts[:4]
    batch = tokenize(enc.tokenizer, texts, enc.max_length)  # as embed() truncates
    obj.eval()
    with torch.no_grad():
        hidden, mask = obj.encode(batch["input_ids"], batch["attention_mask"])
    ours = mean_pool(hidden, mask).numpy()
    ref = enc.embed(texts, batch_size=4)
    assert abs(ours - ref).max() < 1e-5


@pytest.mark.slow
def test_mlm_scores_only_its_candidate_pieces(tmp_path: Path) -> None:
    """The caption vocabulary: the decoder has one row per candidate, the loss still falls, and a
    masked token outside the candidates is a miss, never a hit."""
    enc = tiny_encoder()
    data = Items(enc.tokenizer, "mlm-text")
    candidates = sorted({t for i in range(N_ITEMS) for t in data.batch([i])["input_ids"][0].tolist()}
                        - set(enc.tokenizer.all_special_ids))
    obj = MaskedLM(enc.model, enc.tokenizer, vocabulary=candidates, seed=0)
    assert obj.decoder_bias.shape == (len(candidates),) and len(candidates) < 1000
    losses: dict[int, float] = {}
    _cfg(steps=40, lr=1e-2).train(obj, data, tmp_path, log=lambda s, m: losses.update({s: m["loss"]}),
          progress=False)
    assert sum(losses[s] for s in (38, 39, 40)) < 0.8 * sum(losses[s] for s in (1, 2, 3))

    batch = data.batch(list(range(N_ITEMS)))
    outside = max(candidates) + 1  # a real piece that is not a candidate
    labels = torch.full_like(batch["input_ids"], -100)
    labels[0, 1], labels[1, 1] = outside, candidates[0]
    obj.eval()
    with torch.no_grad():
        _, stats = obj(batch | {"labels": labels})
    assert stats["masked_tokens"] == 2 and stats["accuracy"] <= 0.5  # the outside token can never be hit
    with pytest.raises(ValueError, match="vocabulary"):
        MaskedLM(enc.model, enc.tokenizer, vocabulary=[])


def test_caption_vocabulary_is_every_non_special_piece() -> None:
    from benchmark.data import coco
    from benchmark.training.datasets import Captions
    from benchmark.training.tasks import caption_vocabulary

    enc = tiny_encoder()
    captions = coco.load_captions().head(40)
    data = Captions(captions, enc.tokenizer, MAX_LENGTH)
    vocab = caption_vocabulary(data, enc.tokenizer)
    pieces = {t for row in data.token_rows() for t in row}
    assert set(vocab) == pieces - set(enc.tokenizer.all_special_ids) and vocab == sorted(vocab)


def test_frozen_bottom_by_length_matches_one_padded_pass() -> None:
    from benchmark.models import layers

    enc = tiny_encoder()
    texts = load_sentences(langs=["eng_Latn"])["eng_Latn"].tolist()[:13]
    batch = tokenize(enc.tokenizer, [" ".join(t.split()[: 3 + 2 * i]) for i, t in enumerate(texts)], 48)
    ids, mask = batch["input_ids"], batch["attention_mask"]
    with torch.no_grad():
        padded = layers.bottom(enc.model, ids, mask, 1)
        chunked = layers.bottom_by_length(enc.model, ids, mask, 1, rows_per_chunk=4)
    real = mask.bool()
    torch.testing.assert_close(chunked[real], padded[real], atol=1e-5, rtol=1e-5)
    assert chunked[~real].abs().sum() == 0  # padding comes back as zeros


@pytest.mark.slow  # three interpreters importing torch: ~10 s
def test_concurrent_stages_claim_different_gpus(tmp_path) -> None:
    """`runtime.device: cuda` on a machine with several GPUs: each process (a queue worker's stage) takes
    the first GPU no other holds and keeps it until it exits; with every GPU held, the next one waits
    and takes the first GPU freed (here: by a kill, which the kernel's flock release survives)."""
    import subprocess
    import sys

    code = ("import sys, time; from pathlib import Path; from benchmark.determinism import claim_gpu; "
            "print(claim_gpu(2, Path(sys.argv[1]), poll_s=0.05), flush=True); time.sleep(60)")

    def start() -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    holders = [start()]
    try:
        assert holders[0].stdout.readline().strip() == "0"
        holders.append(start())
        assert holders[1].stdout.readline().strip() == "1"
        holders.append(start())  # both GPUs held: it waits, and says so
        assert holders[2].stderr.readline().strip() == (
            "benchmark: all 2 GPUs are claimed by other benchmark processes; waiting for one")
        holders[1].kill()
        holders[1].wait()
        assert holders[2].stdout.readline().strip() == "1"
    finally:
        for proc in holders:
            proc.kill()
            proc.wait()
