"""Data-parallel training through ``torchrun`` (PyTorch DDP, gloo, 2 CPU processes) against the same
config in one process: same global batches, so the same weights up to float summation order.

Why not bit for bit: with the batch split over 2 ranks, every gradient that sums over rows (a weight's
gradient sums the rows of its input) is summed as (rank 0's rows) + (rank 1's rows), all-reduced,
where one process sums all rows in its kernels' own blocking order; InfoNCE over the gathered
embeddings and the global token-count means are the same formulas, re-associated. The gradients
agree to float rounding (relative ~1e-6); AdamW then carries that into the weights: ~1e-7 after 6
steps at lr 1e-3 (``TOLERANCE``; the measured maxima are printed and in docs/distributed.md). Adam
divides by sqrt(v) + eps (1e-6), so a coordinate whose exact gradient is ~0 turns rounding noise
into steps of up to lr: the multi-task arm (lr 1e-2) has such coordinates (a k-way choice head's
bias, and the last LayerNorm's bias under it: a shift shared by all k choices leaves the softmax
unchanged), hence its looser bound, and its choice-head bias is only checked against Adam's step
bound (``NOISE_ONLY``). Dropout is switched off in these comparisons: under DDP each rank draws its
own dropout masks, a different random draw, not a rounding difference. What IS bit-identical is
checked bitwise: a DDP run killed after a checkpoint and resumed, dropout on (every rank's RNG
state is in the checkpoint).

Each process runs 1 thread, the single-process reference too (thread count changes CPU sums).
Run as a script, this file is the worker: ``[torchrun --nproc_per_node 2] tests/test_distributed.py OUT KIND...``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
KINDS = ("contrastive-image", "contrastive-text", "mlm-prefix", "multitask")
# Max |w_ddp - w_single| allowed after 6 steps (measured: 1.2e-7, 1.2e-7, 1.2e-7, 8.6e-6).
TOLERANCE = {"contrastive-image": 2e-6, "contrastive-text": 2e-6, "mlm-prefix": 2e-6, "multitask": 1e-4}
NOISE_ONLY = {"heads.endings.bias"}  # exact gradient 0 (see above): Adam's bound, 6 steps x lr 1e-2



# --- the worker: one process of a run (plain, or one rank under torchrun) -------------------------

def _setup(kind: str):
    """(objective, data, budget) of a small arm, on the tiny encoder (tests/test_training.py and
    tests/test_text_training.py build the same ones)."""
    sys.path.insert(0, str(REPO / "tests"))
    import test_text_training as text
    import test_training as mm

    if kind == "multitask":  # single + 3-way choice + tagging: unused heads, token-count means, memo
        obj, data, cfg = text._multitask()
        return obj, data, cfg.update(steps=6, grad_accum=2, checkpoint_every=3)
    # InfoNCE text-image (coco-contrastive) and text-text (caption-contrastive); MLM with a visual
    # prefix (masks drawn over the global batch, a mean over the global masked tokens).
    obj, data = mm.make(kind.removesuffix("-dropout"))
    return obj, data, mm._cfg(steps=6, grad_accum=2, checkpoint_every=3, freeze_word_embeddings=True)


def worker(out: Path, kinds: list[str]) -> None:
    import torch

    from benchmark.training.trainer import train

    torch.set_num_threads(1)
    out.mkdir(parents=True, exist_ok=True)
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and len(kinds) > 1:
        # Several runs in one launch share one process group (the trainer then leaves it open);
        # a launch of one run lets the trainer create and destroy it, as the train stage does.
        torch.distributed.init_process_group("gloo")
    for kind in kinds:
        obj, data, cfg = _setup(kind)
        if not kind.endswith("-dropout"):
            for m in obj.modules():  # see the module docstring: per-rank dropout is another draw
                if isinstance(m, torch.nn.Dropout):
                    m.p = 0.0
        log = out / f"{kind}.jsonl"

        def write(step: int, metrics: dict, log: Path = log) -> None:
            with log.open("a", encoding="utf-8") as f:
                f.write(json.dumps({"step": step, **metrics}) + "\n")

        train(obj, data, cfg.training, out / kind, **({"seed": 0} | cfg.loop), log=write, progress=False,
              data_parallel=True)


if __name__ == "__main__":
    worker(Path(sys.argv[1]), sys.argv[2:])
    sys.exit(0)


# --- the tests ------------------------------------------------------------------------------------

def _env() -> dict[str, str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"}
    for k in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(k, None)
    return env


def _launch(out: Path, kinds: list[str], ranks: int | None) -> subprocess.CompletedProcess:
    out.mkdir(parents=True, exist_ok=True)
    script = [str(Path(__file__)), str(out), *kinds]
    cmd = ([str(BIN / "torchrun"), "--standalone", f"--nproc_per_node={ranks}", *script] if ranks
           else [sys.executable, *script])
    proc = subprocess.run(cmd, cwd=REPO, env=_env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"{' '.join(cmd)}:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
    return proc


def _weights(ckpt: Path) -> dict:
    from safetensors.torch import load_file

    from benchmark.training import checkpoint

    return {f"{f}:{k}": v for f in (checkpoint.ENCODER_FILE, checkpoint.HEADS_FILE)
            for k, v in load_file(ckpt / f).items()}


def _metrics(path: Path) -> dict[int, dict[str, float]]:
    timing = {"examples_per_s", "tokens_per_s"}
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    return {r.pop("step"): {k: v for k, v in r.items() if k not in timing} for r in rows}


def test_shard_cuts_rows_and_examples_alike() -> None:
    """A 3-way choice batch of 4 examples (12 rows) over 2 ranks: rows and labels cut at the same
    example boundary, padding width kept, non-tensors passed through; rank order = batch order."""
    import torch

    from benchmark.training.distributed import shard

    batch = {"input_ids": torch.arange(12 * 5).view(12, 5), "labels": torch.tensor([0, 2, 1, 1]),
             "num_choices": 3, "task": "endings"}
    parts = [shard(batch, r, 2) for r in range(2)]
    assert [p["labels"].tolist() for p in parts] == [[0, 2], [1, 1]]
    assert torch.equal(torch.cat([p["input_ids"] for p in parts]), batch["input_ids"])
    assert parts[1]["input_ids"].shape == (6, 5) and parts[1]["task"] == "endings"
    with pytest.raises(ValueError, match="entries"):
        shard(batch | {"odd": torch.zeros(5)}, 0, 2)


def test_divisibility_is_checked_in_rows_and_examples() -> None:
    from benchmark.io import BenchmarkError
    from benchmark.training.distributed import check_divisible

    check_divisible(30, (1,), 1)  # one process: anything goes
    check_divisible(16, (1, 4), 2)  # 16 rows, 4 examples of 4 rows: 2 each
    with pytest.raises(BenchmarkError, match=r"^training.batch_size=30 is not divisible by the torchrun world size 4$"):
        check_divisible(30, (1,), 4)
    with pytest.raises(BenchmarkError, match="holds 3 examples of 4 rows, not divisible by the torchrun world size 2"):
        check_divisible(12, (1, 4), 2)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Every kind trained once in one process and once by 2 ranks under torchrun."""
    root = tmp_path_factory.mktemp("ddp")
    _launch(root / "single", list(KINDS), None)
    _launch(root / "ddp", [*KINDS, "mlm-prefix-dropout"], 2)
    return root / "single", root / "ddp"


@pytest.mark.slow  # the fixture's two launches: ~1 min on 2 cores
@pytest.mark.parametrize("kind", KINDS)
def test_ddp_matches_one_process(runs: tuple[Path, Path], kind: str) -> None:
    import torch

    from benchmark.training import checkpoint

    single, ddp = runs
    a, b = checkpoint.latest(single / kind), checkpoint.latest(ddp / kind)
    assert a.name == b.name == "step-00000006"
    wa, wb, w3 = _weights(a), _weights(b), _weights(checkpoint.step_dir(single / kind, 3))
    assert wa.keys() == wb.keys()
    diff = {k: float((wa[k] - wb[k]).abs().max()) for k in wa}
    worst = max((d, k) for k, d in diff.items() if k.split(":")[1] not in NOISE_ONLY)
    moved = max(float((wa[k] - w3[k]).abs().max()) for k in wa)
    noise = ", ".join(f"{k} {d:.3g}" for k, d in diff.items() if k.split(":")[1] in NOISE_ONLY)
    print(f"{kind}: max |w_ddp - w_single| = {worst[0]:.3g} ({worst[1]}); weights moved {moved:.3g} "
          f"in the last 3 steps; {noise}")
    assert worst[0] <= TOLERANCE[kind] and moved > 100 * TOLERANCE[kind]
    assert all(d <= 6 * 1e-2 for k, d in diff.items() if k.split(":")[1] in NOISE_ONLY)
    # Same budget spent and the same logged means (up to float order), only rank 0 wrote the log.
    assert checkpoint.loop_state(a)["totals"] == checkpoint.loop_state(b)["totals"]
    ma, mb = _metrics(single / f"{kind}.jsonl"), _metrics(ddp / f"{kind}.jsonl")
    assert ma.keys() == mb.keys() and all(ma[s].keys() == mb[s].keys() for s in ma)
    for s in ma:
        for k, v in ma[s].items():
            assert mb[s][k] == pytest.approx(v, rel=1e-4, abs=1e-5), (s, k)
    assert torch.equal(torch.load(a / checkpoint.STATE_FILE, weights_only=True)["rng"]["generators"]["data"],
                       torch.load(b / checkpoint.STATE_FILE, weights_only=True)["rng"]["generators"]["data"])


@pytest.mark.slow
def test_ddp_resume_is_bit_identical(runs: tuple[Path, Path], tmp_path: Path) -> None:
    """Dropout on: killed after the step-3 checkpoint (its later ones removed), the 2-rank run
    resumes and ends with the same bytes as the uninterrupted one."""
    from benchmark.training import checkpoint

    _, ddp = runs
    kind = "mlm-prefix-dropout"
    whole = checkpoint.latest(ddp / kind)
    shutil.copytree(ddp / kind, tmp_path / kind)
    shutil.rmtree(tmp_path / kind / whole.name)
    assert checkpoint.latest(tmp_path / kind).name == "step-00000003"
    _launch(tmp_path, [kind], 2)
    assert checkpoint.weights_sha256(checkpoint.latest(tmp_path / kind)) == checkpoint.weights_sha256(whole)
    resumed, ref = _metrics(tmp_path / f"{kind}.jsonl"), _metrics(ddp / f"{kind}.jsonl")
    assert sorted(resumed) == [4, 5, 6] and all(resumed[s] == ref[s] for s in resumed)


@pytest.mark.slow
def test_world_size_must_divide_the_batch(tmp_path: Path) -> None:
    """`torchrun -m benchmark train` with 3 ranks and batch_size 8: one line, exit != 0, nothing written."""
    env = _env() | {"MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}"}
    subprocess.run([str(BIN / "benchmark"), "params", "--profile", "tiny", "--write",
                    "arms=[baseline,coco-contrastive]"],
                   cwd=tmp_path, env=env, check=True, capture_output=True)
    subprocess.run([str(BIN / "benchmark"), "runs"], cwd=tmp_path, env=env, check=True, capture_output=True)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    proc = subprocess.run([str(BIN / "torchrun"), "--standalone", "--nproc_per_node=3", "-m", "benchmark", "train",
                           "coco-contrastive"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    line = "benchmark: error: training.batch_size=8 is not divisible by the torchrun world size 3"
    assert (proc.stdout + proc.stderr).count(line) == 1, proc.stderr[-3000:]
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before  # no checkpoint, no MLflow


@pytest.mark.slow
def test_dvc_exp_run_trains_through_torchrun(tmp_path: Path) -> None:
    """`runtime.nproc_per_node: 2` inside `dvc exp run`: the train stage (dvc.yaml's own command) relaunches
    itself through torchrun on 2 gloo processes, and the run's model and metrics are where DVC expects
    them, its MLflow run tagged with the world size; the stages after it run on them unchanged."""
    from clones import tracked_copy

    root = tracked_copy(tmp_path / "repo")
    env = {**_env(), "PYTHONPATH": str(root), "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
           "BENCHMARK_CACHE_DIR": str(tmp_path / "cache")}
    env.pop("MLFLOW_TRACKING_URI", None)
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "-c", "user.name=t", "-c", "user.email=t@t",
                                                              "commit", "-qm", "clone"]):
        subprocess.run(cmd, cwd=root, env=env, check=True, capture_output=True)
    # docs/distributed.md's command, on `tiny` (its own arms: baseline, coco-contrastive)
    proc = subprocess.run([str(BIN / "dvc"), "exp", "run", "-S", "profile=tiny", "-S", "runtime.nproc_per_node=2",
                           "-S", "runtime.threads=1"], cwd=root, env=env, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{root / 'mlruns' / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name("flores-transfer").experiment_id],
                              filter_string="tags.mlflow.runName = 'train/coco-contrastive'")
    assert [r.data.params.get("train.world_size") for r in runs] == ["2"]
    assert json.loads((root / "metrics" / "train" / "coco-contrastive.json").read_text())["evidence"]
    assert (root / "metrics" / "evaluate" / "coco-contrastive" / "retrieval.json").exists()
